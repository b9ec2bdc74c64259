//! Bodies of routes that take a list of rows: JSON, or a CSV file sent as `text/csv` or as the
//! `file` part of a `multipart/form-data` form (what `curl -F file=@numbers.csv` sends).

use std::collections::BTreeMap;

use http::{HeaderMap, header};

use super::Request;
use switchboard_core::ErrorCode;

use crate::ApiError;

/// A CSV row: its cells by lower-cased header.
pub type Row = BTreeMap<String, String>;

/// The body of a route that takes rows.
pub enum Upload {
    /// A JSON body, to be read with [`Request::json`].
    Json,
    Csv(Vec<Row>),
}

/// The media type of the request, lower-cased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::param(ErrorCode::InvalidCsv, "file", message.into())
}

/// Reads the body as JSON or CSV; at most `max_rows` CSV rows.
pub async fn read(request: &Request, max_rows: usize) -> Result<Upload, ApiError> {
    let csv = match media_type(&request.headers).as_deref() {
        Some("text/csv") => request.body.clone(),
        Some("multipart/form-data") => file_of_form(request).await?,
        _ => return Ok(Upload::Json),
    };
    rows(&csv, max_rows).map(Upload::Csv)
}

async fn file_of_form(request: &Request) -> Result<bytes::Bytes, ApiError> {
    let content_type = request.header("content-type").unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| invalid("The form has no boundary."))?;
    let body = request.body.clone();
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| invalid(format!("The form is malformed: {e}.")))?
    {
        if field.name() == Some("file") {
            return field
                .bytes()
                .await
                .map_err(|e| invalid(format!("The file could not be read: {e}.")));
        }
    }
    Err(invalid("The form has no `file` field."))
}

/// The rows of a CSV file with a header row.
pub fn rows(csv: &[u8], max_rows: usize) -> Result<Vec<Row>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| invalid(format!("The CSV has no readable header row: {e}.")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(invalid("The CSV needs a header row naming its columns (e.g. `phone`)."));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| invalid(format!("The CSV is malformed: {e}.")))?;
        if rows.len() == max_rows {
            return Err(invalid(format!("At most {max_rows} rows per upload.")));
        }
        rows.push(
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .filter(|(h, v)| !h.is_empty() && !v.is_empty())
                .collect(),
        );
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No file makes CSV reading panic, and no more rows come back than allowed.
        #[test]
        fn no_file_makes_csv_reading_panic(file in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Ok(read) = rows(&file, 5) {
                proptest::prop_assert!(read.len() <= 5);
            }
        }

        #[test]
        fn no_text_file_makes_csv_reading_panic(file in "[a-z0-9,\"\\n\\r +\u{feff}]{0,300}") {
            let _ = rows(file.as_bytes(), 5);
        }
    }

    #[test]
    fn csv_rows_are_keyed_by_their_lower_cased_headers() {
        let rows = rows(
            b"\xef\xbb\xbfPhone, Name ,timezone\n+14155550100, Ada ,\n4155550101,Bob,America/New_York\n",
            10,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get("phone").map(String::as_str), Some("+14155550100"));
        assert_eq!(rows[0].get("name").map(String::as_str), Some("Ada"));
        assert!(!rows[0].contains_key("timezone"), "empty cells are left out");
        assert_eq!(rows[1].get("timezone").map(String::as_str), Some("America/New_York"));
        assert!(super::rows(b"phone\n1\n2\n3\n", 2).is_err(), "row limit");
        assert!(super::rows(b"", 2).is_err(), "no header");
    }
}
