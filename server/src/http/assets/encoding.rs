//! Content codings: which one a request accepts (`Accept-Encoding`, RFC 9110 §12.5.3)
//! and producing it. Assets are compressed once, at the highest settings (the cost is
//! paid once per process, the saving on every slow download), and kept in memory.

use std::io::Write;

/// A content coding we can serve, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The `Content-Encoding` value (none for identity).
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }

    /// Suffix of the entity tag of this representation: a strong validator names
    /// one representation, and each coding is a different one.
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }
}

/// The codings a client accepts, best first (brotli, then gzip); identity is always
/// acceptable as a last resort, as the RFC allows unless explicitly refused.
pub fn accepted(accept_encoding: Option<&str>) -> Vec<Coding> {
    let Some(header) = accept_encoding else {
        return vec![Coding::Identity];
    };
    let mut wildcard = None;
    let mut brotli = None;
    let mut gzip = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next_back()
            .unwrap_or(1.0);
        let acceptable = quality > 0.0;
        match name.as_str() {
            "br" => brotli = Some(acceptable),
            "gzip" | "x-gzip" => gzip = Some(acceptable),
            "*" => wildcard = Some(acceptable),
            _ => {}
        }
    }
    let mut codings = Vec::with_capacity(3);
    if brotli.or(wildcard).unwrap_or(false) {
        codings.push(Coding::Brotli);
    }
    if gzip.or(wildcard).unwrap_or(false) {
        codings.push(Coding::Gzip);
    }
    codings.push(Coding::Identity);
    codings
}

/// Compresses `body` with `coding` (identity returns it unchanged).
pub fn compress(coding: Coding, body: &[u8]) -> Vec<u8> {
    match coding {
        Coding::Identity => body.to_vec(),
        Coding::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder
                .write_all(body)
                .and_then(|()| encoder.finish())
                .expect("compressing into memory cannot fail")
        }
        Coding::Brotli => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 11,
                lgwin: 22,
                size_hint: body.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &body[..], &mut out, &params)
                .expect("compressing into memory cannot fail");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn prefers_brotli_then_gzip_then_identity() {
        use Coding::*;
        assert_eq!(accepted(None), vec![Identity]);
        assert_eq!(accepted(Some("")), vec![Identity]);
        assert_eq!(
            accepted(Some("gzip, deflate, br, zstd")),
            vec![Brotli, Gzip, Identity]
        );
        assert_eq!(accepted(Some("gzip")), vec![Gzip, Identity]);
        assert_eq!(accepted(Some("br;q=0, gzip;q=0.5")), vec![Gzip, Identity]);
        assert_eq!(accepted(Some("*")), vec![Brotli, Gzip, Identity]);
        assert_eq!(accepted(Some("*;q=0, gzip")), vec![Gzip, Identity]);
        assert_eq!(accepted(Some("BR;Q=1.0")), vec![Brotli, Identity]);
        assert_eq!(accepted(Some("identity")), vec![Identity]);
    }

    #[test]
    fn compressed_bodies_decompress_to_the_original() {
        let body = "export const hello = 'world';\n".repeat(200);
        let gz = compress(Coding::Gzip, body.as_bytes());
        let mut round = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut round)
            .unwrap();
        assert_eq!(round, body);
        assert!(gz.len() < body.len() / 10);

        let br = compress(Coding::Brotli, body.as_bytes());
        let mut round = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut round).unwrap();
        assert_eq!(round, body.as_bytes());
        assert!(br.len() <= gz.len());
    }
}
