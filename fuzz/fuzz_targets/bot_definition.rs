//! Bytes → a bot definition (src/bots/loader.rs `parse`: strict JSON, then
//! `Definition::from_json`), as a `--bots` file or a stored definition is read. Checks that a
//! definition that loads:
//! - is stored the way the server stores it (`serde_json::to_string` of its document) and
//!   loads again from that text, to the same document (a restart starts the same bot);
//! - holds what docs/bots.md promises (id, name, fallback, states, messages, webhook);
//! - runs: the greeting, every button of every state and a few texts (the input among them)
//!   take the first transition that matches, to a state of the script, saying its messages.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palaver::bots::definition::{Behaviour, Condition, Definition, Script, MAX_TIMEOUT_MS};
use palaver::bots::loader;
use palaver::bots::script::Input;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(definition) = loader::parse(text) else {
        return;
    };
    let stored = match serde_json::to_string(&definition.document) {
        Ok(stored) => stored,
        Err(err) => panic!("a loaded definition cannot be stored: {err}"),
    };
    match loader::parse(&stored) {
        Ok(again) => assert_eq!(again.document, definition.document, "changed when stored"),
        Err(err) => panic!("a loaded definition does not load once stored: {err}\n{stored}"),
    }
    holds_its_promises(&definition);
    if let Behaviour::Scripted(script) = &definition.behaviour {
        runs(script, text);
    }
});

fn holds_its_promises(definition: &Definition) {
    let id = definition.id();
    assert!((1..=64).contains(&id.len()) && id.starts_with(|c: char| c.is_ascii_lowercase()));
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'));
    let document = &definition.document;
    assert!((1..=64).contains(&document.name.trim().chars().count()));
    assert!(!document.fallback.trim().is_empty() && document.fallback.chars().count() <= 4000);
    match &definition.behaviour {
        Behaviour::Scripted(script) => {
            assert!(script.states.contains_key(&script.start), "no start state");
            for (name, state) in &script.states {
                assert!(
                    (1..=10).contains(&state.say.len()),
                    "{name}: {}",
                    state.say.len()
                );
                for utterance in &state.say {
                    let chars = utterance.body.chars().count();
                    assert!(!utterance.body.trim().is_empty() && chars <= 4000);
                    let choices = utterance.template.choices();
                    assert!(choices.len() <= 10 * 10, "at most 10 cards of 10 buttons");
                    for choice in choices {
                        assert!((1..=64).contains(&choice.id.chars().count()));
                        assert!(!choice.label.trim().is_empty());
                    }
                }
                for transition in &state.on {
                    assert!(
                        script.states.contains_key(&transition.goto),
                        "{name}: a goto"
                    );
                }
            }
        }
        Behaviour::Webhook(webhook) => {
            let rest = (webhook.url.strip_prefix("https://"))
                .or_else(|| webhook.url.strip_prefix("http://"));
            assert!(rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')));
            let ms = webhook.timeout.as_millis();
            assert!((1..=u128::from(MAX_TIMEOUT_MS)).contains(&ms));
            assert!((1..=1000).contains(&webhook.max_in_flight));
        }
    }
}

fn runs(script: &Script, text: &str) {
    let greeting = script.greet();
    assert_eq!(greeting.state, script.start);
    assert_eq!(
        Some(&greeting.say),
        script.states.get(&script.start).map(|s| &s.say)
    );
    // A conversation in a state the definition no longer has starts again.
    let lost = script.step("\u{0}no such state", Input::Text("hi"));
    assert_eq!(lost.as_ref().map(|step| &step.state), Some(&script.start));
    let texts = ["", "hi", "4", text];
    for (name, state) in &script.states {
        let mut inputs: Vec<Input<'_>> = state
            .say
            .iter()
            .flat_map(|utterance| utterance.template.choices())
            .map(|choice| Input::Choice(choice.id.as_str()))
            .collect();
        inputs.extend(texts.iter().map(|text| Input::Text(text)));
        for transition in &state.on {
            if let Condition::Choice(id) = &transition.when {
                inputs.push(Input::Choice(id));
            }
        }
        for input in inputs {
            // docs/bots.md: the first transition that matches is taken; none, the fallback.
            let first = state
                .on
                .iter()
                .find(|transition| match (&transition.when, input) {
                    (Condition::Choice(id), Input::Choice(chosen)) => id == chosen,
                    (Condition::Text(pattern), Input::Text(text)) => pattern.is_match(text),
                    (Condition::Otherwise, _) => true,
                    _ => false,
                });
            let step = script.step(name, input);
            assert_eq!(
                step.as_ref().map(|step| &step.state),
                first.map(|transition| &transition.goto),
                "{name}: {input:?}"
            );
            if let Some(step) = step {
                let Some(next) = script.states.get(&step.state) else {
                    panic!("{name}: {input:?} led to {:?}, not a state", step.state);
                };
                assert_eq!(
                    step.say, next.say,
                    "{name}: {input:?} says another state's words"
                );
            }
        }
    }
}
