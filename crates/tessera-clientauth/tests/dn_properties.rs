//! Property tests for distinguished-name equality (`dn.rs`: RFC 4514
//! strings compared by RFC 4517 distinguishedNameMatch). Equal: the same
//! name written with attribute types in any case or as (OID.)OIDs, values
//! in any case, insignificant spaces added, characters hex-escaped, and the
//! values of a multi-valued RDN in any order. Unequal: a value changed, or
//! two different RDNs swapped.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tessera_clientauth::dn::DistinguishedName;

/// (name, OID) of attribute types the parser knows by name.
const TYPES: [(&str, &str); 7] = [
    ("CN", "2.5.4.3"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("C", "2.5.4.6"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
];

/// One attribute: a type index and a value that starts with a letter or
/// digit and may hold characters that need escaping.
type Ava = (usize, String);
type Name = Vec<Vec<Ava>>;

fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9éÉüÜ][a-zA-Z0-9éÉüÜ .,+;=\"<>#\\\\-]{0,12}"
}

fn name() -> impl Strategy<Value = Name> {
    let rdn = prop::collection::vec((0..TYPES.len(), value()), 1..3).prop_map(|mut avas| {
        // One value per type within an RDN: a repeated type makes the set smaller.
        avas.sort_by_key(|(t, _)| *t);
        avas.dedup_by_key(|(t, _)| *t);
        avas
    });
    prop::collection::vec(rdn, 1..5)
}

/// How to write the same name differently.
#[derive(Debug, Clone, Copy)]
struct Style {
    type_form: u8,
    flip_case: bool,
    spaces: bool,
    hex_every: Option<usize>,
    reverse_avas: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        0u8..4,
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1usize..4),
        any::<bool>(),
    )
        .prop_map(|(type_form, flip_case, spaces, hex_every, reverse_avas)| Style {
            type_form,
            flip_case,
            spaces,
            hex_every,
            reverse_avas,
        })
}

fn flip(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().next().unwrap()
            } else {
                c.to_lowercase().next().unwrap()
            }
        })
        .collect()
}

fn write_value(v: &str, style: Style) -> String {
    let v = if style.flip_case { flip(v) } else { v.to_owned() };
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        if style.hex_every.is_some_and(|n| i % n == 0) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\{b:02X}"));
            }
        } else if matches!(c, '\\' | ',' | '+' | ';' | '"' | '<' | '>' | '=' | '#') {
            out.push('\\');
            out.push(c);
        } else if style.spaces && c == ' ' {
            out.push_str("   ");
        } else {
            out.push(c);
        }
    }
    if style.spaces {
        format!("  {out} ")
    } else {
        out
    }
}

fn write(name: &Name, style: Style) -> String {
    name.iter()
        .map(|rdn| {
            let mut avas: Vec<String> = rdn
                .iter()
                .map(|(t, v)| {
                    let (n, oid) = TYPES[*t];
                    let ty = match style.type_form {
                        0 => n.to_owned(),
                        1 => flip(n),
                        2 => oid.to_owned(),
                        _ => format!("oid.{oid}"),
                    };
                    let eq = if style.spaces { " = " } else { "=" };
                    format!("{ty}{eq}{}", write_value(v, style))
                })
                .collect();
            if style.reverse_avas {
                avas.reverse();
            }
            avas.join("+")
        })
        .collect::<Vec<_>>()
        .join(if style.spaces { " , " } else { "," })
}

const PLAIN: Style = Style {
    type_form: 0,
    flip_case: false,
    spaces: false,
    hex_every: None,
    reverse_avas: false,
};

fn parse(s: &str) -> DistinguishedName {
    DistinguishedName::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

proptest! {
    #[test]
    fn reflexive_and_symmetric(n in name(), a in style(), b in style()) {
        let (x, y) = (parse(&write(&n, a)), parse(&write(&n, b)));
        prop_assert_eq!(&x, &x.clone());
        prop_assert_eq!(&x, &y);
        prop_assert_eq!(&y, &x);
    }

    #[test]
    fn equal_however_written(n in name(), s in style()) {
        prop_assert_eq!(parse(&write(&n, s)), parse(&write(&n, PLAIN)), "{}", write(&n, s));
    }

    #[test]
    fn a_changed_value_is_another_name(n in name(), s in style(), at in any::<prop::sample::Index>(), extra in "[a-z0-9]{1,3}") {
        let mut changed = n.clone();
        let i = at.index(changed.len());
        let j = at.index(changed[i].len());
        changed[i][j].1.push_str(&extra);
        prop_assert_ne!(parse(&write(&changed, s)), parse(&write(&n, PLAIN)));
    }

    #[test]
    fn rdn_order_is_significant(n in name(), s in style()) {
        let mut reversed = n.clone();
        reversed.reverse();
        let a = parse(&write(&n, PLAIN));
        let b = parse(&write(&reversed, s));
        // Equal only when the reversal wrote the same RDN sequence.
        let same = (0..n.len()).all(|i| parse(&write(&vec![n[i].clone()], PLAIN)) == parse(&write(&vec![reversed[i].clone()], PLAIN)));
        prop_assert_eq!(a == b, same);
    }

    #[test]
    fn a_changed_type_is_another_name(n in name(), at in any::<prop::sample::Index>()) {
        let mut changed = n.clone();
        let i = at.index(changed.len());
        let j = at.index(changed[i].len());
        let t = changed[i][j].0;
        // A type not already in that RDN.
        let Some(other) = (0..TYPES.len()).find(|k| *k != t && !changed[i].iter().any(|(x, _)| x == k)) else {
            return Ok(());
        };
        changed[i][j].0 = other;
        prop_assert_ne!(parse(&write(&changed, PLAIN)), parse(&write(&n, PLAIN)));
    }
}
