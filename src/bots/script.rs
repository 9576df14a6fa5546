//! The scripted bot's engine: given where a conversation is and what the user did, where it
//! goes next and what the bot says. Pure: the bot actor stores the position.

use super::definition::{Condition, Script, Utterance};

/// What the user did in the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Pressed a button or quick reply with this id.
    Choice(&'a str),
    /// Wrote this text.
    Text(&'a str),
}

/// The bot's answer: what to say, and the state the conversation is in afterwards.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub say: Vec<Utterance>,
    pub state: String,
}

impl Script {
    /// The greeting: the start state's messages.
    pub fn greet(&self) -> Step {
        Step {
            say: self
                .states
                .get(&self.start)
                .map(|state| state.say.clone())
                .unwrap_or_default(),
            state: self.start.clone(),
        }
    }

    /// The answer to `input` in `state`; `None` when nothing in the state matches (the bot
    /// then says its fallback and stays where it is). A state that no longer exists (the
    /// definition changed) restarts the conversation at the start state.
    pub fn step(&self, state: &str, input: Input<'_>) -> Option<Step> {
        let Some(current) = self.states.get(state) else {
            return Some(self.greet());
        };
        let transition = current
            .on
            .iter()
            .find(|transition| match (&transition.when, input) {
                (Condition::Choice(id), Input::Choice(chosen)) => id == chosen,
                (Condition::Text(pattern), Input::Text(text)) => pattern.is_match(text),
                (Condition::Otherwise, _) => true,
                _ => false,
            })?;
        let next = self.states.get(&transition.goto)?;
        Some(Step {
            say: next.say.clone(),
            state: transition.goto.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::bots::definition::{Behaviour, Definition};

    fn quiz() -> Value {
        json!({
            "id": "quizbot", "name": "Quiz", "sort": "scripted", "fallback": "Pick a button.",
            "script": {
                "start": "hello",
                "states": {
                    "hello": {
                        "say": [{"kind":"buttons","text":"Ready?","buttons":[{"id":"go","label":"Go"}]}],
                        "on": [{"choice":"go","goto":"question"}, {"text":"(?i)^\\s*go\\s*$","goto":"question"}]
                    },
                    "question": {
                        "say": [{"kind":"quick_replies","text":"2+2?","replies":[{"id":"four","label":"4"},{"id":"five","label":"5"}],"body":"What is 2+2?"}],
                        "on": [{"choice":"four","goto":"right"}, {"text":"^\\s*4\\s*$","goto":"right"}, {"goto":"wrong"}]
                    },
                    "right": {"say": [{"kind":"text","text":"Right!"}], "on": [{"goto":"hello"}]},
                    "wrong": {"say": [{"kind":"text","text":"Not quite."}], "on": [{"goto":"question"}]}
                }
            }
        })
    }

    fn script(value: &Value) -> Script {
        match Definition::from_json(value).expect("valid").behaviour {
            Behaviour::Scripted(script) => script,
            Behaviour::Webhook(_) => panic!("scripted"),
        }
    }

    #[test]
    fn greets_with_the_start_state() {
        let step = script(&quiz()).greet();
        assert_eq!(step.state, "hello");
        assert_eq!(step.say[0].body, "Ready?");
    }

    #[test]
    fn follows_choices_text_and_anything_else() {
        let script = script(&quiz());
        assert_eq!(
            script.step("hello", Input::Choice("go")).map(|s| s.state),
            Some("question".into())
        );
        assert_eq!(
            script.step("hello", Input::Text(" GO ")).map(|s| s.state),
            Some("question".into())
        );
        let question = script.step("hello", Input::Choice("go")).expect("step");
        assert_eq!(
            question.say[0].body, "What is 2+2?",
            "an explicit body wins"
        );
        assert_eq!(
            script.step("question", Input::Text("4")).map(|s| s.state),
            Some("right".into())
        );
        assert_eq!(
            script
                .step("question", Input::Choice("five"))
                .map(|s| s.state),
            Some("wrong".into())
        );
        assert_eq!(
            script
                .step("question", Input::Text("no idea"))
                .map(|s| s.state),
            Some("wrong".into())
        );
    }

    #[test]
    fn nothing_matching_means_fallback() {
        let script = script(&quiz());
        assert_eq!(script.step("hello", Input::Text("maybe")), None);
        assert_eq!(
            script.step("hello", Input::Choice("four")),
            None,
            "a choice from another state"
        );
    }

    #[test]
    fn a_state_that_no_longer_exists_restarts_at_the_start() {
        let step = script(&quiz())
            .step("deleted", Input::Text("hi"))
            .expect("restart");
        assert_eq!(step.state, "hello");
    }

    fn mistake(edit: impl FnOnce(&mut Value)) -> String {
        let mut value = quiz();
        edit(&mut value);
        Definition::from_json(&value).expect_err("invalid")
    }

    #[test]
    fn every_mistake_is_named_by_its_place() {
        assert_eq!(
            mistake(|v| v["script"]["states"]["question"]["on"][2]["goto"] = json!("wrnog")),
            "states.question.on[2].goto: no state \"wrnog\""
        );
        assert!(
            mistake(|v| v["script"]["states"]["hello"]["on"][1]["text"] = json!("(unclosed"))
                .starts_with("states.hello.on[1].text: bad regular expression")
        );
        let eleven: Vec<Value> = (0..11)
            .map(|i| json!({"id":format!("b{i}"),"label":"x"}))
            .collect();
        assert_eq!(
            mistake(|v| v["script"]["states"]["hello"]["say"][0]["buttons"] = json!(eleven)),
            "states.hello.say[0].buttons: 11 entries; 1 to 10 are allowed"
        );
        assert_eq!(
            mistake(
                |v| v["script"]["states"]["question"]["say"][0]["replies"][1]["id"] = json!("four")
            ),
            "states.question.say[0].replies[1].id: duplicate id \"four\""
        );
        assert!(
            mistake(|v| v["script"]["states"]["right"]["say"][0]["kind"] = json!("video"))
                .starts_with("states.right.say[0]: unknown variant `video`")
        );
        assert_eq!(
            mistake(|v| v["script"]["start"] = json!("nope")),
            "script.start: no state \"nope\""
        );
        assert!(mistake(|v| v["id"] = json!("Bad Id")).starts_with("id:"));
        assert!(mistake(|v| v["id"] = json!("system")).ends_with("is reserved"));
        assert_eq!(
            mistake(|v| v["sort"] = json!("webhook")),
            "webhook: a webhook bot needs webhook settings"
        );
        assert!(
            mistake(|v| v["sort"] = json!("psychic")).starts_with("definition: unknown variant")
        );
    }

    #[test]
    fn webhook_settings_are_checked() {
        let hook = |settings: Value| {
            Definition::from_json(
                &json!({"id":"hook","name":"Hook","sort":"webhook","fallback":"Sorry.","webhook":settings}),
            )
        };
        assert!(hook(json!({"url":"http://127.0.0.1:9/x"})).is_ok());
        assert_eq!(
            hook(json!({"url":"ftp://x"})).expect_err("bad").as_str(),
            "webhook.url: \"ftp://x\" must be an https:// or http:// URL"
        );
        // Found by the fuzzer: a port past 65535 loaded, and the bot could never be called.
        let port = format!("https://27.0.0.1:{}9000/", "4".repeat(100));
        let err = hook(json!({ "url": port })).expect_err("bad");
        assert!(err.ends_with(": invalid port number"), "{err}");
        for url in [
            "http://",
            "http:///x",
            "https://:80/",
            "http://a b/",
            "https:host/",
        ] {
            assert!(hook(json!({ "url": url })).is_err(), "{url}");
        }
        for url in [
            "https://example.org",
            "http://[::1]:9000/hook",
            "http://h:65535/",
        ] {
            let hook = hook(json!({ "url": url })).map_err(|err| format!("{url}: {err}"));
            assert!(hook.is_ok(), "{hook:?}");
        }
        assert_eq!(
            hook(json!({"url":"http://h/","timeout_ms":0}))
                .expect_err("bad")
                .as_str(),
            "webhook.timeout_ms: must be 1 to 60000"
        );
    }
}
