use proptest::prelude::*;

use super::*;

fn builtin(id: &str, action: Action) -> Rule {
    Rule {
        id: id.into(),
        pattern: None,
        action,
        applies_to: AppliesTo::Users,
    }
}

fn custom(id: &str, pattern: &str, action: Action, applies_to: AppliesTo) -> Rule {
    Rule {
        id: id.into(),
        pattern: Some(pattern.into()),
        action,
        applies_to,
    }
}

fn set(rules: Vec<Rule>) -> RuleSet {
    match RuleSet::compile(rules) {
        Ok(set) => set,
        Err(err) => panic!("does not compile: {err}"),
    }
}

fn builtins(action: Action) -> RuleSet {
    set(vec![
        builtin("contact_phone", action),
        builtin("contact_email", action),
        builtin("link", action),
    ])
}

/// The rule that rejects `body` under the built-ins, if any.
fn rejected_by(rules: &RuleSet, body: &str) -> Option<String> {
    match rules.check(Sender::User, body) {
        Verdict::Reject { rule } => Some(rule),
        Verdict::Store { .. } => None,
    }
}

fn stored(rules: &RuleSet, sender: Sender, body: &str) -> (String, Vec<String>) {
    match rules.check(sender, body) {
        Verdict::Store { body, flagged } => (body.into_owned(), flagged),
        Verdict::Reject { rule } => panic!("rejected by {rule}"),
    }
}

const PHONES: &[&str] = &[
    "010-1234-5678",
    "010 1234 5678",
    "01012345678",
    "010.1234.5678",
    "010 - 1234 - 5678",
    "(010) 1234-5678",
    "011-123-4567",
    "02-123-4567",
    "031-1234-5678",
    "+82 10 1234 5678",
    "+82-10-1234-5678",
    "+821012345678",
    "+1 (415) 555-2671",
    "+44 20 7946 0958",
    "+33 6 12 34 56 78",
    "０１０-１２３４-５６７８",
];

#[test]
fn every_way_of_writing_a_phone_number_is_found() {
    let rules = builtins(Action::Reject);
    for phone in PHONES {
        assert_eq!(
            rejected_by(&rules, phone).as_deref(),
            Some("contact_phone"),
            "{phone}"
        );
        for (before, after) in [
            ("내 번호는 ", " 이야"),
            ("번호", "로 연락해"),
            ("call me at ", "."),
        ] {
            let body = format!("{before}{phone}{after}");
            assert_eq!(
                rejected_by(&rules, &body).as_deref(),
                Some("contact_phone"),
                "{body}"
            );
        }
    }
}

#[test]
fn ordinary_numbers_are_not_phone_numbers() {
    let rules = set(vec![builtin("contact_phone", Action::Reject)]);
    for body in [
        "숙제는 3번부터 15번까지",
        "2026-12-07에 만나",
        "2026.12.07",
        "시험 점수 95점, 평균 87.5",
        "pi is 3.14159",
        "room 1234",
        "order 20261207123456789",
        "1 + 2 = 3",
        "+5 points",
    ] {
        assert_eq!(rejected_by(&rules, body), None, "{body}");
    }
}

#[test]
fn e_mail_addresses_are_found_also_when_disguised() {
    let rules = set(vec![builtin("contact_email", Action::Reject)]);
    for body in [
        "amy@example.com",
        "메일은 amy.kim+chat@school.ac.kr 로",
        "amy @ example . com",
        "amy(at)example(dot)com",
        "amy [at] example [dot] com",
        "amy＠example.com",
    ] {
        assert_eq!(
            rejected_by(&rules, body).as_deref(),
            Some("contact_email"),
            "{body}"
        );
    }
    for body in ["@amy hello", "a @ b", "meet at 5. ok"] {
        assert_eq!(rejected_by(&rules, body), None, "{body}");
    }
}

#[test]
fn links_are_found_with_or_without_a_scheme() {
    let rules = set(vec![builtin("link", Action::Reject)]);
    for body in [
        "https://example.com/a?b=c",
        "http://10.0.0.1:8080/x",
        "여기로 와 open.kakao.com/o/abc123",
        "discord.gg/abcdef",
        "t.me/someone",
        "www.example.org",
        "bit.ly/3xYz",
        "EXAMPLE.COM",
        "링크example.com입니다",
    ] {
        assert_eq!(rejected_by(&rules, body).as_deref(), Some("link"), "{body}");
    }
    for body in [
        "e.g. this",
        "3.14",
        "end of sentence.Next one",
        "file.txt",
        "안녕하세요. 반가워요",
    ] {
        assert_eq!(rejected_by(&rules, body), None, "{body}");
    }
}

#[test]
fn masking_replaces_each_match_by_one_mark_per_code_point() {
    let rules = builtins(Action::Mask);
    let (body, flagged) = stored(
        &rules,
        Sender::User,
        "번호는 010-1234-5678 이고 메일은 a@b.kr",
    );
    assert_eq!(body, "번호는 ●●●●●●●●●●●●● 이고 메일은 ●●●●●●");
    assert!(flagged.is_empty());
    let (body, _) = stored(&rules, Sender::User, "０１０-１２３４-５６７８!");
    assert_eq!(body, "●●●●●●●●●●●●●!");
}

#[test]
fn a_reject_wins_over_mask_and_flag_and_names_its_rule() {
    let rules = set(vec![
        builtin("link", Action::Flag),
        builtin("contact_phone", Action::Mask),
        custom("cr_bad", "(?i)badword", Action::Reject, AppliesTo::Users),
    ]);
    assert_eq!(
        rejected_by(&rules, "x.com 010-1234-5678 BADWORD").as_deref(),
        Some("cr_bad")
    );
    let (body, flagged) = stored(&rules, Sender::User, "see x.com or 01012345678");
    assert_eq!(body, "see x.com or ●●●●●●●●●●●");
    assert_eq!(flagged, vec!["link".to_string()]);
}

#[test]
fn bots_and_the_system_are_checked_only_by_rules_for_all() {
    let rules = set(vec![
        builtin("contact_phone", Action::Reject),
        custom("cr_1", "secret", Action::Mask, AppliesTo::All),
    ]);
    let (body, _) = stored(&rules, Sender::Automated, "call 010-1234-5678, secret");
    assert_eq!(body, "call 010-1234-5678, ●●●●●●");
    assert_eq!(
        rejected_by(&rules, "call 010-1234-5678").as_deref(),
        Some("contact_phone")
    );
}

#[test]
fn no_rules_or_no_match_leaves_the_body_borrowed() {
    let none = RuleSet::default();
    assert!(matches!(
        none.check(Sender::User, "010-1234-5678"),
        Verdict::Store {
            body: Cow::Borrowed(_),
            ..
        }
    ));
    let rules = builtins(Action::Reject);
    assert!(matches!(
        rules.check(Sender::User, "안녕, 내일 봐"),
        Verdict::Store { body: Cow::Borrowed(_), ref flagged } if flagged.is_empty()
    ));
}

#[test]
fn an_invalid_set_is_refused_whole_naming_the_rule() {
    let refused = |rules: Vec<Rule>| match RuleSet::compile(rules) {
        Ok(_) => panic!("compiled"),
        Err(err) => err.to_string(),
    };
    let err = refused(vec![
        builtin("link", Action::Reject),
        custom("cr_x", "(unclosed", Action::Reject, AppliesTo::All),
    ]);
    assert!(err.starts_with("rule cr_x: not a valid regex"), "{err}");
    let err = refused(vec![custom("cr_e", "a*", Action::Mask, AppliesTo::All)]);
    assert!(err.contains("cr_e") && err.contains("empty"), "{err}");
    let err = refused(vec![custom(
        "cr_l",
        &"a".repeat(1001),
        Action::Flag,
        AppliesTo::All,
    )]);
    assert!(err.contains("cr_l") && err.contains("longer"), "{err}");
    let err = refused(vec![builtin("nope", Action::Reject)]);
    assert!(
        err.contains("nope") && err.contains("not a built-in"),
        "{err}"
    );
    let err = refused(vec![Rule {
        pattern: Some("x".into()),
        ..builtin("link", Action::Reject)
    }]);
    assert!(err.contains("link") && err.contains("no pattern"), "{err}");
    let err = refused(vec![
        builtin("link", Action::Reject),
        builtin("link", Action::Mask),
    ]);
    assert!(err.contains("twice"), "{err}");
    let many = (0..=MAX_RULES)
        .map(|n| {
            custom(
                &format!("cr_{n}"),
                &format!("w{n}"),
                Action::Flag,
                AppliesTo::All,
            )
        })
        .collect();
    assert_eq!(RuleSet::compile(many).err(), Some(RuleError::TooManyRules));
}

#[test]
fn a_pattern_that_compiles_too_large_is_refused() {
    // Counted repetitions of a Unicode class blow up when compiled.
    let huge = r"\w{500}\w{500}";
    let err = match RuleSet::compile(vec![custom("cr_big", huge, Action::Reject, AppliesTo::All)]) {
        Ok(_) => panic!("compiled"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("cr_big") || err.contains("limit"), "{err}");
}

#[test]
fn masking_handles_overlapping_and_adjacent_spans() {
    assert_eq!(mask("abcdef", vec![(1, 3), (2, 5)]), "a●●●●f");
    assert_eq!(mask("abcdef", vec![(0, 2), (2, 4)]), "●●●●ef");
    assert_eq!(mask("가나다", vec![(3, 6)]), "가●다");
    assert_eq!(mask("abc", vec![]), "abc");
}

/// Korean text, spaces and punctuation: no digits, no Latin letters, so no rule matches it.
/// (A phone number's brackets and `+` may stay unmasked; its digits may not.)
fn korean() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            (0xAC00u32..0xD7A4).prop_map(|c| char::from_u32(c).unwrap_or('가')),
            Just(' '),
            Just(','),
            Just('!'),
        ],
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Text made of what the built-in patterns look for, and a little else.
fn addressy() -> impl Strategy<Value = String> {
    let pieces = [
        "a", "Z", "w", "www", "com", "kr", "at", "AT", "dot", "0", "1", "7", "０", ".", "@", "＠",
        "(", ")", "[", "]", ":", "/", "+", "-", " ", "가", "\n",
    ];
    proptest::collection::vec(proptest::sample::select(pieces.to_vec()), 0..30)
        .prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn a_built_in_searched_near_its_gate_finds_what_a_whole_search_finds(
        before in korean(),
        text in addressy(),
        after in korean(),
        padding in 0usize..1200,
    ) {
        let body = format!("{before}{}{text}{}{after}", "가".repeat(padding), " ".repeat(padding % 7));
        for builtin in Builtin::ALL {
            let Some(gate) = builtin.gate() else { continue };
            let (gate, pattern) = match (Regex::new(&gate), Regex::new(&builtin.pattern())) {
                (Ok(gate), Ok(pattern)) => (gate, pattern),
                _ => panic!("{} does not compile", builtin.id()),
            };
            prop_assert_eq!(
                gated_match(&gate, &pattern, &body),
                pattern.is_match(&body),
                "{}: {:?}", builtin.id(), body
            );
        }
    }

    #[test]
    fn a_gate_matches_wherever_its_pattern_does(text in addressy()) {
        for builtin in Builtin::ALL {
            let Some(gate) = builtin.gate() else { continue };
            let (gate, pattern) = match (Regex::new(&gate), Regex::new(&builtin.pattern())) {
                (Ok(gate), Ok(pattern)) => (gate, pattern),
                _ => panic!("{} does not compile", builtin.id()),
            };
            if pattern.is_match(&text) {
                prop_assert!(gate.is_match(&text), "{}: {:?}", builtin.id(), text);
            }
        }
    }

    #[test]
    fn a_phone_number_inside_korean_text_is_masked_and_nothing_else(
        before in korean(),
        after in korean(),
        phone in proptest::sample::select(PHONES),
    ) {
        let rules = builtins(Action::Mask);
        let body = format!("{before}{phone}{after}");
        let (masked, _) = stored(&rules, Sender::User, &body);
        prop_assert_eq!(masked.chars().count(), body.chars().count());
        prop_assert!(masked.starts_with(&before));
        prop_assert!(masked.ends_with(&after));
        let middle = &masked[before.len()..masked.len() - after.len()];
        prop_assert!(!middle.chars().any(char::is_numeric), "{}", middle);
    }

    #[test]
    fn masking_keeps_the_length_in_code_points_and_every_unmasked_code_point(
        text in proptest::collection::vec(any::<char>(), 0..200)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
        cuts in proptest::collection::vec((0usize..200, 0usize..20), 0..6),
    ) {
        let bounds: Vec<usize> = text.char_indices().map(|(at, _)| at).chain([text.len()]).collect();
        let spans: Vec<(usize, usize)> = cuts
            .iter()
            .map(|&(start, len)| {
                let start = start.min(bounds.len() - 1);
                let end = (start + len).min(bounds.len() - 1);
                (bounds[start], bounds[end])
            })
            .collect();
        let masked = mask(&text, spans.clone());
        prop_assert_eq!(masked.chars().count(), text.chars().count());
        for ((at, original), now) in text.char_indices().zip(masked.chars()) {
            let covered = spans.iter().any(|&(start, end)| start <= at && at < end);
            prop_assert_eq!(now, if covered { MASK } else { original });
        }
    }
}
