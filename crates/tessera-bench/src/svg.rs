//! The benchmark chart: grouped horizontal bars of tokens/s per scenario,
//! one bar per server, with each scenario's crypto ceiling as a dashed mark.
//! Plain SVG with a generic font family (nothing fetched when viewed).

use crate::report::thousands;
use std::fmt::Write as _;

pub struct ChartRow {
    pub label: String,
    /// One value per series (None: not measured).
    pub values: Vec<Option<f64>>,
    pub ceiling: Option<f64>,
}

const COLORS: [&str; 4] = ["#1f5fa8", "#6fa8dc", "#e8833a", "#8e7cc3"];
const LEFT: f64 = 330.0;
const PLOT: f64 = 540.0;
const WIDTH: f64 = 960.0;
const BAR: f64 = 14.0;
const GAP: f64 = 3.0;
const GROUP_GAP: f64 = 16.0;
const TOP: f64 = 78.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A round axis maximum at or above `max` (1, 2, 2.5 or 5 × 10^k).
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= max {
            return m * p;
        }
    }
    10.0 * p
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(last) if last.chars().count() + 1 + word.chars().count() <= width => {
                last.push(' ');
                last.push_str(word);
            }
            _ => lines.push(word.to_owned()),
        }
    }
    lines
}

/// The chart; `caption` lines go under it (method, machine).
pub fn chart(rows: &[ChartRow], series: &[&str], caption: &[&str]) -> String {
    let caption: Vec<String> = caption.iter().flat_map(|c| wrap(c, 150)).collect();
    let n = series.len().max(1) as f64;
    let group = n * (BAR + GAP) - GAP;
    let plot_bottom = TOP + rows.len() as f64 * (group + GROUP_GAP) + 6.0;
    let height = plot_bottom + 28.0 + 16.0 * caption.len() as f64;
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().flatten().copied().chain(r.ceiling))
        .fold(0.0, f64::max);
    let max = nice_max(max);
    let x = |v: f64| LEFT + PLOT * (v / max).min(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="12" y="22" font-size="15" font-weight="bold">Tokens per second, one server core (64 connections, TLS)</text>
"##
    );
    // Legend.
    let mut lx = 12.0;
    for (i, name) in series.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="36" width="12" height="12" fill="{}"/><text x="{}" y="46">{}</text>"#,
            COLORS[i % COLORS.len()],
            lx + 16.0,
            esc(name)
        );
        lx += 24.0 + 7.0 * name.len() as f64;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{lx}" y1="42" x2="{}" y2="42" stroke="#555" stroke-dasharray="4 3" stroke-width="2"/><text x="{}" y="46">crypto ceiling (one core)</text>"##,
        lx + 18.0,
        lx + 24.0
    );
    // Grid and axis.
    let bottom = plot_bottom;
    for i in 0..=5 {
        let v = max * f64::from(i) / 5.0;
        let gx = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="#e3e3e3"/><text x="{gx:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            TOP - 8.0,
            bottom + 16.0,
            thousands(v)
        );
    }
    // Ceilings first, so that bars and their figures are drawn over them.
    for (ri, row) in rows.iter().enumerate() {
        let y0 = TOP + ri as f64 * (group + GROUP_GAP);
        if let Some(c) = row.ceiling {
            let cx = x(c);
            let _ = writeln!(
                s,
                r##"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="#555" stroke-dasharray="4 3" stroke-width="2"><title>ceiling ≈ {} tokens/s</title></line>"##,
                y0 - 2.0,
                y0 + group + 2.0,
                thousands(c)
            );
        }
    }
    for (ri, row) in rows.iter().enumerate() {
        let y0 = TOP + ri as f64 * (group + GROUP_GAP);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y0 + group / 2.0 + 4.0,
            esc(&row.label)
        );
        for (si, v) in row.values.iter().enumerate() {
            let y = y0 + si as f64 * (BAR + GAP);
            match v {
                Some(v) => {
                    let w = (x(*v) - LEFT).max(1.0);
                    let _ = writeln!(
                        s,
                        r##"<rect x="{LEFT}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{}"><title>{}: {} tokens/s</title></rect><text x="{:.1}" y="{:.1}" font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text>"##,
                        COLORS[si % COLORS.len()],
                        esc(series.get(si).copied().unwrap_or("")),
                        thousands(*v),
                        LEFT + w + 4.0,
                        y + BAR - 3.0,
                        thousands(*v)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{}" y="{:.1}" font-size="11" fill="#999">—</text>"##,
                        LEFT + 4.0,
                        y + BAR - 3.0
                    );
                }
            }
        }
    }
    for (i, line) in caption.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text x="12" y="{:.1}" font-size="11" fill="#555">{}</text>"##,
            plot_bottom + 36.0 + 16.0 * i as f64,
            esc(line)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_bar_and_escapes() {
        let rows = vec![
            ChartRow {
                label: "a & b".into(),
                values: vec![Some(12_000.0), None, Some(3_000.0)],
                ceiling: Some(25_000.0),
            },
            ChartRow {
                label: "c".into(),
                values: vec![Some(1.0), Some(2.0), Some(3.0)],
                ceiling: None,
            },
        ];
        let svg = chart(&rows, &["x", "y", "z"], &["64 connections"]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &amp; b"));
        assert!(svg.contains("12,000"));
        assert!(svg.contains(">—</text>"));
        assert!(svg.contains("64 connections"));
        assert_eq!(svg.matches("<rect x=\"330\"").count(), 5);
        assert!(!svg.contains("http://") || svg.matches("http://").count() == 1);
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(nice_max(23_000.0), 25_000.0);
        assert_eq!(nice_max(9_000.0), 10_000.0);
    }
}
