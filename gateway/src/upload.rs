//! Receiving an upload: the body (raw CSV / JSON / NDJSON, or multipart with `file` and an
//! optional `schema` part) is spooled to a temporary file under the size limit, never held in
//! memory. A body over the limit — with or without Content-Length — is a 413.
use std::io::Write;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use catalog::records::source::UploadFormat;
use catalog::schema::TableSchema;
use catalog::ErrorCode;
use futures::{Stream, StreamExt};

use crate::error::{ApiError, ApiResult};

pub struct Spooled {
    pub file: tempfile::NamedTempFile,
    pub format: UploadFormat,
    pub schema: Option<TableSchema>,
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the upload is larger than the limit of {limit} bytes"),
    )
}

fn format_of(content_type: &str) -> Option<UploadFormat> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "text/csv" | "application/csv" => Some(UploadFormat::Csv),
        "application/json" => Some(UploadFormat::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            Some(UploadFormat::Ndjson)
        }
        _ => None,
    }
}

/// The encoding a content type's `charset` names, when it is not UTF-8: the body is turned into
/// UTF-8 as it is spooled. A CSV that Excel saved on Windows is windows-1252; naming that spares
/// re-saving it. No `charset` (or UTF-8) leaves the bytes as they are, and invalid UTF-8 is
/// then the ingest's clear error. An unknown label is a 415.
fn charset_of(
    content_type: Option<&mime::Mime>,
) -> ApiResult<Option<&'static encoding_rs::Encoding>> {
    let Some(label) = content_type.and_then(|m| m.get_param(mime::CHARSET)) else {
        return Ok(None);
    };
    match encoding_rs::Encoding::for_label(label.as_str().as_bytes()) {
        Some(encoding) if encoding == encoding_rs::UTF_8 => Ok(None),
        Some(encoding) => Ok(Some(encoding)),
        None => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("charset '{label}' is not known; send UTF-8, or name the file's charset (for example windows-1252)"),
        )),
    }
}

fn guess_from_name(name: &str) -> Option<UploadFormat> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Some(UploadFormat::Csv)
    } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
        Some(UploadFormat::Ndjson)
    } else if lower.ends_with(".json") {
        Some(UploadFormat::Json)
    } else {
        None
    }
}

/// Writes the body to a temporary file; with `charset`, turned into UTF-8 on the way. The
/// limit counts the bytes received.
async fn spool<S, E>(
    mut body: S,
    limit: u64,
    dir: Option<&str>,
    charset: Option<&'static encoding_rs::Encoding>,
) -> ApiResult<tempfile::NamedTempFile>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let io = |e| ApiError::from(catalog::CatalogError::Io(e));
    let mut file = match dir {
        Some(d) => tempfile::NamedTempFile::new_in(d),
        None => tempfile::NamedTempFile::new(),
    }
    .map_err(io)?;
    let mut decoder = charset.map(|c| (c, c.new_decoder()));
    let mut utf8 = Vec::new();
    let mut received: u64 = 0;
    loop {
        let (chunk, last) = match body.next().await {
            Some(chunk) => (
                chunk.map_err(|e| ApiError::bad_request(format!("the upload was cut off: {e}")))?,
                false,
            ),
            // the end: the decoder gets one last, empty call to finish
            None => (bytes::Bytes::new(), true),
        };
        received += chunk.len() as u64;
        if received > limit {
            return Err(too_large(limit));
        }
        match decoder.as_mut() {
            None => file.write_all(&chunk).map_err(io)?,
            Some((charset, decoder)) => {
                // room for the worst case, so one call decodes the whole chunk
                let room = decoder.max_utf8_buffer_length(chunk.len());
                utf8.resize(room.ok_or_else(|| too_large(limit))?, 0);
                let (result, read, written) =
                    decoder.decode_to_utf8_without_replacement(&chunk, &mut utf8, last);
                match result {
                    encoding_rs::DecoderResult::InputEmpty => {}
                    encoding_rs::DecoderResult::Malformed(bad, after) => {
                        // where the bad sequence starts, counted from 1 (it may have begun in
                        // the chunk before)
                        let at = (received - chunk.len() as u64 + read as u64)
                            .saturating_sub(u64::from(bad) + u64::from(after));
                        return Err(ApiError::bad_request(format!(
                            "the upload is not valid {}: byte {} of it cannot be read in that charset",
                            charset.name(),
                            at + 1
                        )));
                    }
                    encoding_rs::DecoderResult::OutputFull => {
                        return Err(ApiError::from(catalog::CatalogError::Internal(
                            "the decoded upload outgrew its buffer".into(),
                        )))
                    }
                }
                file.write_all(&utf8[..written]).map_err(io)?;
            }
        }
        if last {
            break;
        }
    }
    file.flush().map_err(io)?;
    Ok(file)
}

/// Reads the request body into a temporary file, with its format and optional schema.
pub async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    limit: u64,
    dir: Option<&str>,
) -> ApiResult<Spooled> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            return Err(too_large(limit));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return receive_multipart(req, payload, limit, dir).await;
    }
    let format = format_of(content_type).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send text/csv, application/json (an array of objects), application/x-ndjson, or multipart/form-data with a 'file' part",
        )
    })?;
    let charset = charset_of(content_type.parse::<mime::Mime>().ok().as_ref())?;
    let file = spool(payload, limit, dir, charset).await?;
    Ok(Spooled {
        file,
        format,
        schema: None,
    })
}

async fn receive_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    limit: u64,
    dir: Option<&str>,
) -> ApiResult<Spooled> {
    let mut parts = Multipart::new(req.headers(), payload);
    let mut data: Option<(tempfile::NamedTempFile, UploadFormat)> = None;
    let mut schema = None;
    while let Some(part) = parts.next().await {
        let mut part = part
            .map_err(|e| ApiError::bad_request(format!("the multipart body is not valid: {e}")))?;
        let name = part
            .content_disposition()
            .and_then(|d| d.get_name())
            .unwrap_or("")
            .to_owned();
        match name.as_str() {
            "file" => {
                let declared = part
                    .content_type()
                    .map(|m| m.essence_str().to_owned())
                    .unwrap_or_default();
                let charset = charset_of(part.content_type())?;
                let filename = part
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .unwrap_or("")
                    .to_owned();
                let format = format_of(&declared).or_else(|| guess_from_name(&filename)).ok_or_else(|| {
                    ApiError::new(ErrorCode::UnsupportedMediaType, "the 'file' part must be CSV, JSON or NDJSON (by its Content-Type or file name)")
                })?;
                let file = spool(&mut part, limit, dir, charset).await?;
                data = Some((file, format));
            }
            "schema" => {
                let mut buf = Vec::new();
                while let Some(chunk) = part.next().await {
                    let chunk = chunk.map_err(|e| {
                        ApiError::bad_request(format!("the schema part was cut off: {e}"))
                    })?;
                    buf.extend_from_slice(&chunk);
                    if buf.len() > 1 << 20 {
                        return Err(ApiError::new(
                            ErrorCode::PayloadTooLarge,
                            "the schema part is larger than 1 MiB",
                        ));
                    }
                }
                schema = Some(TableSchema::from_table_schema_json(&buf)?);
            }
            _ => {
                // Unknown parts are drained and ignored.
                while let Some(chunk) = part.next().await {
                    chunk.map_err(|e| {
                        ApiError::bad_request(format!("the multipart body is not valid: {e}"))
                    })?;
                }
            }
        }
    }
    let (file, format) =
        data.ok_or_else(|| ApiError::bad_request("the multipart body has no 'file' part"))?;
    Ok(Spooled {
        file,
        format,
        schema,
    })
}
