//! Request bodies: `Content-Encoding` (zstd, gzip, deflate, identity) with a hard
//! limit on the decompressed size, so a small compressed bomb cannot exhaust memory.

use std::io::Read;

use axum::http::{HeaderMap, StatusCode};

use super::ApiError;

/// Decompresses `body` per its `Content-Encoding`, refusing to grow past `limit` bytes.
pub fn decode_body(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(too_large(limit));
            }
            Ok(body.to_vec())
        }
        "zstd" => {
            let decoder =
                zstd::stream::read::Decoder::new(body).map_err(|e| bad_encoding("zstd", &e))?;
            read_limited(decoder, limit, "zstd")
        }
        "gzip" | "x-gzip" => read_limited(flate2::read::GzDecoder::new(body), limit, "gzip"),
        "deflate" => {
            // HTTP `deflate` is zlib-wrapped, but some clients send raw deflate: try both.
            read_limited(flate2::read::ZlibDecoder::new(body), limit, "deflate").or_else(|err| {
                if err.status == StatusCode::PAYLOAD_TOO_LARGE {
                    return Err(err);
                }
                read_limited(flate2::read::DeflateDecoder::new(body), limit, "deflate")
            })
        }
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Encoding {other:?}; send zstd, gzip, deflate or no encoding"
            ),
        )),
    }
}

fn read_limited(reader: impl Read, limit: usize, name: &str) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad_encoding(name, &e))?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

fn bad_encoding(name: &str, err: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("body is not valid {name} data (Content-Encoding: {name}): {err}"),
    )
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("decompressed body exceeds {limit} bytes; split the payload into smaller batches"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", encoding.parse().unwrap());
        h
    }

    #[test]
    fn all_encodings_round_trip() {
        let data = b"hello intake".repeat(10);
        let zstd = zstd::stream::encode_all(&data[..], 3).unwrap();
        assert_eq!(decode_body(&headers("zstd"), &zstd, 1 << 20).unwrap(), data);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        assert_eq!(
            decode_body(&headers("gzip"), &gz.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data).unwrap();
        assert_eq!(
            decode_body(&headers("deflate"), &z.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&data).unwrap();
        assert_eq!(
            decode_body(&headers("deflate"), &raw.finish().unwrap(), 1 << 20).unwrap(),
            data
        );
        assert_eq!(
            decode_body(&HeaderMap::new(), &data, 1 << 20).unwrap(),
            data
        );
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let zeros = vec![0u8; 1 << 20];
        let bomb = zstd::stream::encode_all(&zeros[..], 3).unwrap();
        let err = decode_body(&headers("zstd"), &bomb, 1000).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        let err = decode_body(&headers("gzip"), b"not gzip", 1000).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = decode_body(&headers("br"), b"x", 1000).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
