//! The file extension of a download whose name the engine generates: from the
//! Content-Disposition filename, else the URL path, else the Content-Type.

use percent_encoding::percent_decode_str;

/// Extensions are limited to `[a-z0-9]{1,10}`: anything else is dropped, never escaped.
fn sanitize(ext: &str) -> Option<String> {
    let ext = ext.to_ascii_lowercase();
    let valid = !ext.is_empty()
        && ext.len() <= 10
        && ext
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    valid.then_some(ext)
}

fn extension_of_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    sanitize(ext)
}

/// The filename of a Content-Disposition value; `filename*` (RFC 6266/5987) wins.
fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    for param in value.split(';').skip(1) {
        let (key, raw) = match param.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
            None => continue,
        };
        if key == "filename*" {
            // charset'lang'percent-encoded
            let encoded = raw.splitn(3, '\'').nth(2).unwrap_or(raw);
            return Some(percent_decode_str(encoded).decode_utf8_lossy().into_owned());
        }
        if key == "filename" {
            plain = Some(raw.trim_matches('"').to_string());
        }
    }
    plain
}

/// The preferred extension of a media type, from mime-db (via `mime2ext`): one answer per
/// type (`image/jpeg` -> `jpg`, `application/octet-stream` -> `bin`), parameters ignored.
fn extension_of_mime(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
    mime2ext::mime2ext(essence).and_then(sanitize)
}

pub fn extension(
    content_disposition: Option<&str>,
    url_path: &str,
    content_type: Option<&str>,
) -> Option<String> {
    content_disposition
        .and_then(disposition_filename)
        .and_then(|name| extension_of_name(&name))
        .or_else(|| extension_of_name(&percent_decode_str(url_path).decode_utf8_lossy()))
        .or_else(|| content_type.and_then(extension_of_mime))
}

#[cfg(test)]
mod tests {
    use super::extension;

    #[test]
    fn disposition_wins_then_path_then_type() {
        assert_eq!(
            extension(
                Some("attachment; filename=\"a.PDF\""),
                "/x.png",
                Some("image/gif")
            )
            .as_deref(),
            Some("pdf")
        );
        assert_eq!(
            extension(
                Some("attachment; filename*=UTF-8''%E6%96%87.txt"),
                "/x",
                None
            )
            .as_deref(),
            Some("txt")
        );
        assert_eq!(
            extension(None, "/dir/file.tar.gz", Some("image/png")).as_deref(),
            Some("gz")
        );
        assert_eq!(
            extension(None, "/download", Some("image/png; charset=x")).as_deref(),
            Some("png")
        );
        assert_eq!(extension(None, "/download", None), None);
        assert_eq!(
            extension(None, "/d", Some("text/plain")).as_deref(),
            Some("txt")
        );
        assert_eq!(
            extension(None, "/d", Some("image/jpeg")).as_deref(),
            Some("jpg")
        );
        assert_eq!(
            extension(None, "/d", Some("application/octet-stream")).as_deref(),
            Some("bin")
        );
        assert_eq!(
            extension(None, "/d", Some("application/x-unknown-thing")),
            None
        );
    }

    #[test]
    fn hostile_extensions_are_dropped() {
        assert_eq!(
            extension(Some("inline; filename=\"x.a/../b\""), "/y", None),
            None
        );
        assert_eq!(extension(None, "/x.verylongextension", None), None);
        assert_eq!(extension(None, "/x.p%2Fg", None), None);
        assert_eq!(extension(None, "/.bashrc", None), None);
    }
}
