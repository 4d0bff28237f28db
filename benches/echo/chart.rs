//! A hand-written SVG bar chart of the ratios to the strongest tokio variant of each
//! scenario: one panel per figure, one group of bars per scenario, one bar per server, a
//! dashed line at 1.0 (the reference).

use std::fmt::Write as _;

use crate::results::{Cell, Ratios};

const WIDTH: f64 = 960.0;
const PANEL: f64 = 250.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
/// Above the first panel: the title, then the legend's rows.
const HEAD: f64 = 44.0;
/// A legend entry's width and a legend row's height.
const LEGEND_ENTRY: f64 = 110.0;
const LEGEND_ROW: f64 = 16.0;
const PLOT: f64 = 170.0;

type Pick = fn(&Cell, &Ratios) -> Option<f64>;

pub fn svg(cells: &[Cell], servers: &[&str], title: &str) -> String {
    let panels: [(&str, bool, Pick); 3] = [
        (
            "Requests per second ÷ strongest tokio (higher is better)",
            false,
            |_, r| r.requests_per_s,
        ),
        (
            "Requests per server CPU-second ÷ strongest tokio (higher is better)",
            false,
            |_, r| r.requests_per_cpu_s,
        ),
        (
            "Server memory ÷ strongest tokio: peak RSS; idle: RSS per connection (lower is better)",
            true,
            |c, r| {
                let idle = c
                    .median
                    .as_ref()
                    .is_some_and(|m| m.rss_per_conn_bytes.is_some());
                if idle {
                    r.rss_per_conn_bytes
                } else {
                    r.peak_rss_kib
                }
            },
        ),
    ];
    let mut scenarios: Vec<&str> = Vec::new();
    for c in cells {
        if !scenarios.contains(&c.scenario.as_str()) {
            scenarios.push(&c.scenario);
        }
    }
    let top = HEAD + LEGEND_ROW * legend_rows(servers.len()) as f64;
    let height = top + PANEL * panels.len() as f64;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="16" font-weight="bold">{}</text>"#,
        esc(title)
    );
    legend(&mut s, servers);
    for (i, (name, with_idle, pick)) in panels.iter().enumerate() {
        let groups: Vec<&str> = scenarios
            .iter()
            .copied()
            .filter(|sc| *with_idle || !cells.iter().any(|c| c.scenario == *sc && is_idle(c)))
            .collect();
        panel(
            &mut s,
            top + PANEL * i as f64,
            name,
            &groups,
            servers,
            cells,
            *pick,
        );
    }
    s.push_str("</svg>\n");
    s
}

fn is_idle(c: &Cell) -> bool {
    c.median
        .as_ref()
        .is_some_and(|m| m.rss_per_conn_bytes.is_some())
}

/// Legend entries per row.
fn legend_per_row() -> usize {
    (((WIDTH - LEFT - RIGHT) / LEGEND_ENTRY) as usize).max(1)
}

fn legend_rows(servers: usize) -> usize {
    servers.div_ceil(legend_per_row()).max(1)
}

/// Rows under the title, right-aligned, as many entries in each as fit.
fn legend(s: &mut String, servers: &[&str]) {
    for (row, names) in servers.chunks(legend_per_row()).enumerate() {
        let y = 32.0 + LEGEND_ROW * row as f64;
        let mut x = WIDTH - RIGHT - LEGEND_ENTRY * names.len() as f64;
        for name in names {
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{}"/>"#,
                color(name)
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}">{}</text>"#,
                x + 16.0,
                y + 11.0,
                esc(name)
            );
            x += LEGEND_ENTRY;
        }
    }
}

fn panel(
    s: &mut String,
    y0: f64,
    title: &str,
    groups: &[&str],
    servers: &[&str],
    cells: &[Cell],
    pick: Pick,
) {
    let value = |sc: &str, srv: &str| {
        let c = cells.iter().find(|c| c.scenario == sc && c.server == srv)?;
        pick(c, c.vs_reference.as_ref()?)
    };
    let top = groups
        .iter()
        .flat_map(|g| servers.iter().filter_map(move |srv| value(g, srv)))
        .fold(1.0_f64, f64::max);
    let ymax = (top * 1.15 * 2.0).ceil() / 2.0;
    let step = if ymax > 4.0 { 1.0 } else { 0.5 };
    let base = y0 + 30.0 + PLOT;
    let y = |v: f64| base - v / ymax * PLOT;
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="{}" font-size="14">{}</text>"#,
        y0 + 18.0,
        esc(title)
    );
    let mut t = 0.0;
    while t <= ymax + 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yt:.1}" y2="{yt:.1}" stroke="#ddd"/><text x="{lx}" y="{ly:.1}" text-anchor="end">{t:.1}</text>"##,
            x2 = WIDTH - RIGHT,
            yt = y(t),
            lx = LEFT - 6.0,
            ly = y(t) + 4.0
        );
        t += step;
    }
    let gw = (WIDTH - LEFT - RIGHT) / groups.len().max(1) as f64;
    let bw = gw * 0.8 / servers.len().max(1) as f64;
    for (gi, g) in groups.iter().enumerate() {
        let gx = LEFT + gw * gi as f64 + gw * 0.1;
        for (k, srv) in servers.iter().enumerate() {
            let x = gx + bw * k as f64;
            match value(g, srv) {
                Some(v) => {
                    let _ = writeln!(
                        s,
                        r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {v:.2}</title></rect>"#,
                        y(v),
                        bw - 2.0,
                        base - y(v),
                        color(srv),
                        esc(srv),
                        esc(g)
                    );
                    let _ = writeln!(
                        s,
                        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{v:.2}</text>"#,
                        x + bw / 2.0 - 1.0,
                        y(v) - 3.0
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="#b00">n/a</text>"##,
                        x + bw / 2.0 - 1.0,
                        base - 3.0
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            gx + gw * 0.4,
            base + 16.0,
            esc(g)
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{x2}" y1="{y1:.1}" y2="{y1:.1}" stroke="#333" stroke-dasharray="5,4"/>"##,
        x2 = WIDTH - RIGHT,
        y1 = y(1.0)
    );
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" x2="{}" y1="{base:.1}" y2="{base:.1}" stroke="#333"/>"##,
        WIDTH - RIGHT
    );
}

/// A server's colour, the same in every chart: this crate in blues, tokio in greys.
fn color(server: &str) -> &'static str {
    match server {
        "netecho" => "#1f77b4",
        "netecho-1" => "#9ecae1",
        "tokio" | "tokio-udp" => "#8c8c8c",
        "tokio-64k" | "tokio-rustls" => "#bcbcbc",
        "tokio-copy" => "#5a5a5a",
        "threads" => "#ff7f0e",
        "mio" => "#2ca02c",
        "socat" => "#9467bd",
        _ => "#d62728",
    }
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
