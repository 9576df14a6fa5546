//! The content rules' cost per post: `RuleSet::check` on 4,000-character bodies with the
//! built-in rules on (docs/safety.md, BENCHMARKS.md "Content rules"). Not run by `cargo
//! test`; run it with `cargo bench --bench content_rules` (a release build).

use std::hint::black_box;
use std::time::{Duration, Instant};

use palaver::safety::{Action, AppliesTo, Rule, RuleSet, Sender};

fn builtins(action: Action) -> RuleSet {
    let rule = |id: &str| Rule {
        id: id.into(),
        pattern: None,
        action,
        applies_to: AppliesTo::Users,
    };
    match RuleSet::compile(vec![
        rule("contact_phone"),
        rule("contact_email"),
        rule("link"),
    ]) {
        Ok(rules) => rules,
        Err(err) => panic!("the built-ins do not compile: {err}"),
    }
}

/// `unit` repeated to exactly `chars` code points.
fn body(unit: &str, chars: usize) -> String {
    unit.chars().cycle().take(chars).collect()
}

/// Median time of one check over rounds of `per_round` checks.
fn measure(rules: &RuleSet, body: &str) -> Duration {
    let per_round = 2_000;
    let mut rounds = Vec::new();
    let started = Instant::now();
    while rounds.len() < 15 || started.elapsed() < Duration::from_secs(1) {
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(rules.check(Sender::User, black_box(body)));
        }
        rounds.push(start.elapsed() / per_round);
    }
    rounds.sort();
    rounds[rounds.len() / 2]
}

fn main() {
    let korean = body(
        "오늘 수학 숙제 3번부터 15번까지 같이 풀자, 내일 2시에 도서관에서 만나! ",
        4_000,
    );
    let english = body(
        "Let's do problems 3 to 15 together; meet at the library at 2 tomorrow. ",
        4_000,
    );
    let mut with_phone = body("오늘 수학 숙제 같이 풀자 ", 3_987);
    with_phone.push_str("010-1234-5678");
    let mut with_link = body("오늘 수학 숙제 같이 풀자 ", 3_985);
    with_link.push_str("open.kakao.com");
    let cases = [
        (
            "4,000 chars of Korean text, no match",
            &korean,
            Action::Reject,
        ),
        (
            "4,000 chars of English text, no match",
            &english,
            Action::Reject,
        ),
        (
            "4,000 chars, a phone number at the end, reject",
            &with_phone,
            Action::Reject,
        ),
        (
            "4,000 chars, a phone number at the end, mask",
            &with_phone,
            Action::Mask,
        ),
        (
            "4,000 chars, a link at the end, flag",
            &with_link,
            Action::Flag,
        ),
    ];
    println!("content rules: built-ins contact_phone, contact_email, link; median per check");
    for (name, text, action) in cases {
        let rules = builtins(action);
        let time = measure(&rules, text);
        println!(
            "{:>10.2} µs  {name} ({} bytes)",
            time.as_secs_f64() * 1e6,
            text.len()
        );
    }
}
