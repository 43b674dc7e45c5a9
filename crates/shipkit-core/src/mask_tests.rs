use super::*;

#[test]
fn masks_registered_secrets_longest_first() {
    register("supersecret-token-123");
    register("supersecret");
    let out = mask("auth supersecret-token-123 and supersecret");
    assert_eq!(out, "auth *** and ***");
}

#[test]
fn short_and_boolean_values_are_not_masked() {
    register("abc");
    register("TRUE");
    assert_eq!(mask("abc def true"), "abc def true");
}

#[test]
fn a_five_character_password_is_masked() {
    register("hunt2");
    assert_eq!(mask("DB_PASSWORD=hunt2"), "DB_PASSWORD=***");
}

#[test]
fn url_path_is_masked_alone_too() {
    register_url("https://hooks.example.test/services/T000/B000/XXXXXXXXXXXX");
    assert_eq!(
        mask("posting to /services/T000/B000/XXXXXXXXXXXX failed"),
        "posting to *** failed"
    );
    assert_eq!(
        redact_url("https://user:pw@hooks.example.test/services/x?y=1"),
        "https://hooks.example.test/***"
    );
    assert_eq!(redact_url("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    assert_eq!(
        redact_url("https://h.example.test@evil.example/x"),
        "https://evil.example/***"
    );
}

#[test]
fn echoed_pieces_of_a_webhook_url_are_masked() {
    register_url("http://127.0.0.1:9/hook/T0SECRETTOKENabc123/B9?sig=Q1w2E3r4T5&api-version=1.0");
    assert_eq!(
        mask("HTTP 401: invalid token: T0SECRETTOKENabc123"),
        "HTTP 401: invalid token: ***"
    );
    assert_eq!(mask("bad signature Q1w2E3r4T5"), "bad signature ***");
    // Plain words of the path stay readable: `services` must not vanish from every output.
    assert_eq!(mask("hook services api-version 1.0"), "hook services api-version 1.0");
}

#[test]
fn encoded_forms_are_masked() {
    register("p@ss w/rd\"x");
    for echoed in [
        "p%40ss%20w%2Frd%22x",
        "p%40ss+w%2Frd%22x",
        "p%40ss%20w%2frd%22x",
        "p@ss w/rd\\\"x",
        "p@ss w\\/rd\\\"x",
    ] {
        assert_eq!(mask(&format!("[{echoed}]")), "[***]", "{echoed}");
    }
    // A piece written percent-encoded in the URL is masked decoded too.
    register_url("https://h.example.test/x/t%C3%B6ken%2B42");
    assert_eq!(mask("token: töken+42"), "token: ***");
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%2Fb%zz%4").as_deref(), Some("a/b%zz%4"));
    assert_eq!(percent_decode("%FF"), None);
    assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
}

#[test]
fn secret_names() {
    assert!(is_secret_name("SLACK_WEBHOOK_URL"));
    assert!(is_secret_name("GITHUB_TOKEN"));
    assert!(is_secret_name("registry_password"));
    assert!(!is_secret_name("AWS_REGION"));
    assert!(!is_secret_name("CIRCLE_BRANCH"));
}
