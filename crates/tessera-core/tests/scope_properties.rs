//! Property tests for scope parsing (RFC 6749 §3.3): scope tokens are
//! `1*( %x21 / %x23-5B / %x5D-7E )` separated by single spaces. The rule
//! `ScopeSet::parse` documents: a set, so order and repeats do not matter
//! and it prints sorted; the empty string is the empty set; anything else
//! (empty tokens from leading, trailing or double spaces, characters
//! outside the grammar, more than `MAX_LEN` bytes) is refused.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::collections::BTreeSet;
use tessera_core::ScopeSet;

fn token() -> impl Strategy<Value = String> {
    "[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,12}"
}

fn tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(token(), 1..12)
}

/// A character no scope token may hold (space is the separator, tested apart).
fn outside_grammar() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('"'),
        Just('\\'),
        Just('\u{7f}'),
        (0u8..0x20).prop_map(char::from),
        any::<char>().prop_filter("non-ASCII", |c| !c.is_ascii()),
    ]
}

proptest! {
    #[test]
    fn valid_sets_parse_and_round_trip(tokens in tokens()) {
        let raw = tokens.join(" ");
        let set = ScopeSet::parse(&raw).unwrap();
        let expected: BTreeSet<&str> = tokens.iter().map(String::as_str).collect();
        prop_assert_eq!(set.iter().collect::<BTreeSet<_>>(), expected.clone());
        for t in &tokens {
            prop_assert!(set.contains(t));
        }
        // Printed sorted and without repeats; printing and parsing again is the same set.
        let printed = set.to_string();
        prop_assert_eq!(&printed, &expected.into_iter().collect::<Vec<_>>().join(" "));
        prop_assert_eq!(ScopeSet::parse(&printed).unwrap(), set);
    }

    #[test]
    fn order_and_repeats_do_not_matter(tokens in tokens(), seed in any::<u64>()) {
        let mut shuffled = tokens.clone();
        // A deterministic shuffle by the seed, with one token repeated.
        shuffled.sort_by_key(|t| (seed ^ t.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t.bytes().map(u64::from).sum::<u64>());
        shuffled.push(tokens[seed as usize % tokens.len()].clone());
        prop_assert_eq!(ScopeSet::parse(&shuffled.join(" ")).unwrap(), ScopeSet::parse(&tokens.join(" ")).unwrap());
    }

    #[test]
    fn subset_is_set_inclusion(a in tokens(), b in tokens()) {
        let (sa, sb) = (ScopeSet::parse(&a.join(" ")).unwrap(), ScopeSet::parse(&b.join(" ")).unwrap());
        let (ba, bb): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
        prop_assert_eq!(sa.is_subset(&sb), ba.is_subset(&bb));
        let union = format!("{} {}", a.join(" "), b.join(" "));
        prop_assert!(sa.is_subset(&ScopeSet::parse(&union).unwrap()));
    }

    #[test]
    fn a_character_outside_the_grammar_is_refused(tokens in tokens(), c in outside_grammar(), at in any::<prop::sample::Index>()) {
        let mut raw = tokens.join(" ");
        let positions: Vec<usize> = raw.char_indices().map(|(i, _)| i).chain([raw.len()]).collect();
        raw.insert(positions[at.index(positions.len())], c);
        prop_assert!(ScopeSet::parse(&raw).is_err(), "{:?}", raw);
    }

    #[test]
    fn empty_tokens_are_refused(tokens in tokens(), at in any::<prop::sample::Index>(), kind in 0..3) {
        let raw = match kind {
            0 => format!(" {}", tokens.join(" ")),
            1 => format!("{} ", tokens.join(" ")),
            _ => {
                // A double space between two tokens (or a lone space).
                let mut t = tokens.clone();
                t.insert(at.index(t.len() + 1), String::new());
                t.join(" ")
            }
        };
        prop_assert!(ScopeSet::parse(&raw).is_err(), "{:?}", raw);
    }

    #[test]
    fn over_the_length_bound_is_refused(t in token()) {
        let raw = vec![t; ScopeSet::MAX_LEN].join(" ");
        prop_assert!(raw.len() > ScopeSet::MAX_LEN);
        prop_assert!(ScopeSet::parse(&raw).is_err());
        // The bound counts bytes, as documented: exactly MAX_LEN is accepted.
        let exact = "a".repeat(ScopeSet::MAX_LEN);
        prop_assert!(ScopeSet::parse(&exact).is_ok());
    }
}

#[test]
fn the_empty_string_is_the_empty_set_and_a_lone_space_is_refused() {
    assert!(ScopeSet::parse("").unwrap().is_empty());
    assert!(ScopeSet::parse(" ").is_err());
}
