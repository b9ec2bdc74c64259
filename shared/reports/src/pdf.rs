//! The report as a PDF: A4 pages with the KPIs, a chart of calls per day, the outcomes, the
//! objections heard and a table per campaign, in DejaVu Sans embedded in the file. One face
//! only: printpdf subsets fonts only with its layout engine, so each face costs its whole size
//! (about 350 KB compressed); headings stand out by size and colour instead of weight.

use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rect, Rgb, TextItem,
};

use crate::summary::Summary;

const WIDTH: f32 = 210.0;
const HEIGHT: f32 = 297.0;
const LEFT: f32 = 20.0;
/// Where a page's content stops.
const BOTTOM: f32 = 20.0;

fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

/// Pages being written, top to bottom.
struct Writer {
    font: FontId,
    pages: Vec<Vec<Op>>,
    /// Where the next line goes on the current page (mm from the bottom).
    y: f32,
}

impl Writer {
    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = HEIGHT - 20.0;
    }

    /// Room for `mm` more on this page, or a new page.
    fn room(&mut self, mm: f32) {
        if self.y - mm < BOTTOM {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, strong: bool, text: &str) {
        let font = self.font.clone();
        let shade = if strong {
            rgb(0.08, 0.20, 0.45)
        } else {
            rgb(0.1, 0.1, 0.1)
        };
        self.ops().extend([
            Op::SetFillColor { col: shade },
            Op::StartTextSection,
            Op::SetTextCursor {
                pos: Point::new(Mm(x), Mm(y)),
            },
            Op::SetFont {
                font: PdfFontHandle::External(font),
                size: Pt(size),
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// A line of cells at the given x positions, then down one line.
    fn row(&mut self, cells: &[(f32, &str)], size: f32, strong: bool) {
        self.room(size * 0.5);
        for (x, text) in cells {
            self.text_at(*x, self.y, size, strong, text);
        }
        self.y -= size * 0.5;
    }

    fn heading(&mut self, text: &str) {
        self.room(20.0);
        self.y -= 4.0;
        self.row(&[(LEFT, text)], 13.0, true);
        self.y -= 1.0;
    }

    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, color: Color) {
        self.ops().extend([
            Op::SetFillColor { col: color },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Mm(x).into(),
                    y: Mm(y).into(),
                    width: Mm(width).into(),
                    height: Mm(height).into(),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            },
        ]);
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32)) {
        let point = |(x, y): (f32, f32)| LinePoint {
            p: Point::new(Mm(x), Mm(y)),
            bezier: false,
        };
        self.ops().extend([
            Op::SetOutlineColor {
                col: rgb(0.5, 0.5, 0.5),
            },
            Op::SetOutlineThickness { pt: Pt(0.5) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(from), point(to)],
                    is_closed: false,
                },
            },
        ]);
    }
}

/// An amount in minor units, as money.
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let symbol = if currency == "USD" {
        "$".to_owned()
    } else {
        format!("{currency} ")
    };
    format!("{sign}{symbol}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

/// The calls of each day as bars: all calls light, the connected ones dark in front.
fn chart(w: &mut Writer, summary: &Summary) {
    let (height, width) = (50.0, WIDTH - 2.0 * LEFT);
    w.room(height + 14.0);
    let base = w.y - height;
    let most = summary.days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let slot = width / summary.days.len().max(1) as f32;
    let bar = (slot * 0.7).min(18.0);
    for (i, (day, calls, connected)) in summary.days.iter().enumerate() {
        let x = LEFT + i as f32 * slot + (slot - bar) / 2.0;
        let scale = |n: u64| n as f32 / most as f32 * (height - 6.0);
        if *calls > 0 {
            w.rect(x, base, bar, scale(*calls), rgb(0.72, 0.80, 0.93));
            w.rect(x, base, bar, scale(*connected), rgb(0.16, 0.38, 0.71));
            w.text_at(x, base + scale(*calls) + 1.0, 7.0, false, &calls.to_string());
        }
        w.text_at(x, base - 4.0, 7.0, false, &day.format("%d %b").to_string());
    }
    w.line((LEFT, base), (LEFT + width, base));
    w.y = base - 8.0;
    w.row(
        &[(LEFT, "Light: calls placed or taken. Dark: calls answered.")],
        8.0,
        false,
    );
}

/// The report's pages.
pub fn render(summary: &Summary) -> Vec<u8> {
    let mut doc = PdfDocument::new("Switchboard weekly report");
    let mut warnings = Vec::new();
    let font = ParsedFont::from_bytes(dejavu::sans::regular(), 0, &mut warnings).expect("DejaVu Sans parses");
    let mut w = Writer {
        font: doc.add_font(&font),
        pages: Vec::new(),
        y: 0.0,
    };
    w.new_page();
    let totals = &summary.totals;
    let currency = summary.currency.as_str();

    w.row(&[(LEFT, "Switchboard weekly report")], 20.0, true);
    w.row(&[(LEFT, summary.workspace.as_str())], 12.0, false);
    let period = format!(
        "{} to {} (UTC)",
        summary.from.format("%Y-%m-%d %H:%M"),
        summary.to.format("%Y-%m-%d %H:%M")
    );
    w.row(&[(LEFT, period.as_str())], 10.0, false);

    w.heading("Key figures");
    let kpis = [
        ("Calls", totals.calls.to_string()),
        ("Connect rate", format!("{:.1}%", totals.connect_rate())),
        ("Minutes", format!("{:.1}", totals.minutes())),
        ("Cost", money(totals.cost_minor, currency)),
        ("Approvals requested", summary.approvals_requested.to_string()),
        ("Approvals decided", summary.approvals_decided.to_string()),
    ];
    for (name, value) in &kpis {
        w.row(&[(LEFT, name), (LEFT + 60.0, value.as_str())], 11.0, false);
    }

    w.heading("Calls per day");
    chart(&mut w, summary);

    w.heading("How calls ended");
    for (status, count) in &summary.statuses {
        w.row(
            &[(LEFT, status.as_str()), (LEFT + 60.0, count.to_string().as_str())],
            10.0,
            false,
        );
    }
    if !summary.outcomes.is_empty() {
        w.heading("Outcomes");
        for (outcome, count) in &summary.outcomes {
            w.row(
                &[(LEFT, outcome.as_str()), (LEFT + 60.0, count.to_string().as_str())],
                10.0,
                false,
            );
        }
    }

    w.heading("Top objections heard");
    if summary.objections.is_empty() {
        w.row(&[(LEFT, "None of the library's objections was heard.")], 10.0, false);
    }
    for (objection, calls) in &summary.objections {
        let heard = format!("{calls} call{}", if *calls == 1 { "" } else { "s" });
        w.row(
            &[(LEFT, objection.as_str()), (LEFT + 110.0, heard.as_str())],
            10.0,
            false,
        );
    }

    w.heading("Campaigns");
    let columns = [LEFT, LEFT + 70.0, LEFT + 88.0, LEFT + 112.0, LEFT + 135.0];
    let header = ["Campaign", "Calls", "Connect", "Minutes", "Cost"];
    let cells = |values: [&str; 5]| -> Vec<(f32, String)> {
        columns.iter().zip(values).map(|(x, v)| (*x, v.to_owned())).collect()
    };
    let row = |w: &mut Writer, cells: Vec<(f32, String)>, strong: bool| {
        let borrowed: Vec<(f32, &str)> = cells.iter().map(|(x, v)| (*x, v.as_str())).collect();
        w.row(&borrowed, 10.0, strong);
    };
    row(&mut w, cells(header), true);
    for campaign in &summary.campaigns {
        let name: String = campaign.name.chars().take(34).collect();
        let (calls, rate) = (campaign.calls.to_string(), format!("{:.0}%", campaign.connect_rate()));
        let (minutes, cost) = (
            format!("{:.1}", campaign.minutes()),
            money(campaign.cost_minor, currency),
        );
        row(&mut w, cells([&name, &calls, &rate, &minutes, &cost]), false);
    }

    let pages = w
        .pages
        .into_iter()
        .map(|ops| PdfPage::new(Mm(WIDTH), Mm(HEIGHT), ops))
        .collect();
    doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_reads_as_money() {
        assert_eq!(money(1234, "USD"), "$12.34");
        assert_eq!(money(-5, "USD"), "-$0.05");
        assert_eq!(money(100, "EUR"), "EUR 1.00");
    }
}
