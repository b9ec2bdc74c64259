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
    file_of(request.header("content-type").unwrap_or_default(), request.body.clone()).await
}

/// The `file` part of a `multipart/form-data` body with this `Content-Type`.
pub async fn file_of(content_type: &str, body: bytes::Bytes) -> Result<bytes::Bytes, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(|_| invalid("The form has no boundary."))?;
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

        /// No form makes reading its file panic, whatever its content type and bytes.
        #[test]
        fn no_form_makes_reading_its_file_panic(
            content_type in "multipart/form-data(; boundary=[a-zA-Z0-9'()+_,./:=? -]{0,30})?",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            let _ = futures::executor::block_on(file_of(&content_type, body.into()));
        }

        /// A file sent in a well-formed form, beside other fields, is read back byte for byte.
        #[test]
        fn the_file_of_a_form_is_read_as_sent(
            file in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            before in "[a-z]{0,10}",
        ) {
            let boundary = "sb-test-7f3a9c1e";
            let mut body = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n{before}\r\n--{boundary}\r\n\
                 Content-Disposition: form-data; name=\"file\"; filename=\"n.csv\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .into_bytes();
            body.extend_from_slice(&file);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let content_type = format!("multipart/form-data; boundary={boundary}");
            let read = futures::executor::block_on(file_of(&content_type, body.into()));
            proptest::prop_assert_eq!(read.ok().map(|b| b.to_vec()), Some(file));
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
