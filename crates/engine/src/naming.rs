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

/// Property tests (proptest): whatever a server sends, the extension is `[a-z0-9]{1,10}` or
/// none, and nothing panics.
#[cfg(test)]
mod proptests {
    use super::extension;
    use proptest::prelude::*;

    fn is_clean(ext: &Option<String>) -> bool {
        ext.as_deref().is_none_or(|e| {
            (1..=10).contains(&e.len())
                && e.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
    }

    /// File names a hostile server might send: traversal, separators, dots, unicode,
    /// percent escapes, quotes, control characters.
    fn hostile_name() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("..".to_string()),
            Just("/".to_string()),
            Just("\\".to_string()),
            Just(".".to_string()),
            Just("%2F".to_string()),
            Just("%00".to_string()),
            Just("%E6%96%87".to_string()),
            Just("\"".to_string()),
            Just(";".to_string()),
            Just("\u{0}".to_string()),
            Just("\r\n".to_string()),
            Just("ＰＮＧ".to_string()),
            "[a-zA-Z0-9]{0,12}",
            "\\PC{0,6}",
        ];
        prop::collection::vec(piece, 0..8).prop_map(|parts| parts.concat())
    }

    fn disposition() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just("attachment"),
                Just("inline"),
                Just(""),
                Just("form-data")
            ],
            prop_oneof![
                Just("filename"),
                Just("FILENAME"),
                Just("filename*"),
                Just("Filename*"),
                Just("name"),
            ],
            prop_oneof![
                Just(""),
                Just("UTF-8''"),
                Just("utf-8'en'"),
                Just("'"),
                Just("''")
            ],
            hostile_name(),
            any::<bool>(),
            "\\PC{0,16}",
        )
            .prop_map(|(kind, key, charset, name, quoted, tail)| {
                let value = if quoted { format!("\"{name}\"") } else { name };
                format!("{kind}; {key}={charset}{value}{tail}")
            })
    }

    fn content_type() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("image/png".to_string()),
            Just("IMAGE/JPEG; charset=x".to_string()),
            Just("application/octet-stream".to_string()),
            Just("text/plain;;;".to_string()),
            Just(";".to_string()),
            "[a-z]{1,12}/[a-z0-9.+-]{1,20}",
            "\\PC{0,40}",
            ".*",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn any_input_gives_a_clean_extension_or_none(
            cd in prop::option::of(".*"),
            path in ".*",
            ct in prop::option::of(".*"),
        ) {
            let ext = extension(cd.as_deref(), &path, ct.as_deref());
            prop_assert!(is_clean(&ext), "{ext:?}");
        }

        #[test]
        fn hostile_headers_give_a_clean_extension_or_none(
            cd in prop::option::of(disposition()),
            path in hostile_name().prop_map(|p| format!("/{p}")),
            ct in prop::option::of(content_type()),
        ) {
            let ext = extension(cd.as_deref(), &path, ct.as_deref());
            prop_assert!(is_clean(&ext), "{ext:?}");
        }

        #[test]
        fn a_clean_disposition_extension_wins(
            stem in "[a-zA-Z0-9_-]{1,20}",
            ext in "[a-zA-Z0-9]{1,10}",
            path in ".*",
            ct in prop::option::of(".*"),
        ) {
            let cd = format!("attachment; filename=\"{stem}.{ext}\"");
            let got = extension(Some(&cd), &path, ct.as_deref());
            prop_assert_eq!(got, Some(ext.to_ascii_lowercase()));
        }

        #[test]
        fn an_extension_over_ten_characters_or_with_other_bytes_is_never_taken(
            stem in "[a-z]{1,8}",
            ext in "[a-z0-9]{11,30}|[a-z0-9]{0,4}[^a-zA-Z0-9./\\\\%][a-z0-9]{0,4}",
        ) {
            let path = format!("/{stem}.{ext}");
            prop_assert_eq!(extension(None, &path, None), None);
        }
    }
}
