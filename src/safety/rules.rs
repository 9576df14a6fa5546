//! An operator's content rules, compiled once per change into one [`RuleSet`]: per kind of
//! sender (people; bots and the system), the custom rules as one `regex::RegexSet` (one pass
//! answers whether any matches) and the built-in ones each searched near the matches of its
//! literal gate ([`Builtin::gate`]); each rule's own regex finds the spans a `mask` covers.
//! [`RuleSet::check`] is the one decision every post (and edit) goes through. Bounds:
//! [`MAX_RULES`], [`MAX_PATTERN_BYTES`], [`MAX_TOTAL_PATTERN_BYTES`], and the compiled size
//! of each regex and set ([`COMPILED_SIZE_LIMIT`]); a pattern that breaks one is refused with
//! the set.

use std::borrow::Cow;

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use super::builtins::Builtin;

/// Most rules in a set.
pub const MAX_RULES: usize = 100;
/// Longest pattern of a custom rule, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1_000;
/// All patterns of a set together (built-ins included), in bytes.
pub const MAX_TOTAL_PATTERN_BYTES: usize = 20_000;
/// The compiled size each regex (and the set) may take, and the lazy DFA's cache.
pub const COMPILED_SIZE_LIMIT: usize = 4 << 20;
pub const DFA_SIZE_LIMIT: usize = 8 << 20;
/// What a masked code point becomes.
pub const MASK: char = '●';

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The post is refused (`forbidden`, naming the rule); nothing is stored.
    Reject,
    /// Each match is stored as [`MASK`] repeated to its length in code points.
    Mask,
    /// Stored as sent, and reported (reason `rule`).
    Flag,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Reject => "reject",
            Action::Mask => "mask",
            Action::Flag => "flag",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        [Action::Reject, Action::Mask, Action::Flag]
            .into_iter()
            .find(|action| action.as_str() == text)
    }
}

/// Whose posts a rule checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppliesTo {
    /// People, bots and the system.
    All,
    /// People only.
    Users,
}

impl AppliesTo {
    pub fn as_str(self) -> &'static str {
        match self {
            AppliesTo::All => "all",
            AppliesTo::Users => "users",
        }
    }

    pub fn parse(text: &str) -> Option<AppliesTo> {
        [AppliesTo::All, AppliesTo::Users]
            .into_iter()
            .find(|to| to.as_str() == text)
    }
}

/// Who posts: a person, or a bot or the system (checked only by rules for `all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    User,
    Automated,
}

/// One rule as the operator gave it: a built-in by its id (no pattern), or a custom one
/// (`cr_…`) with its pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// `None` for a built-in.
    pub pattern: Option<String>,
    pub action: Action,
    pub applies_to: AppliesTo,
}

impl Rule {
    /// The regex this rule runs: its own pattern, or its built-in's.
    fn regex_source(&self) -> Result<Cow<'_, str>, RuleError> {
        match (&self.pattern, Builtin::parse(&self.id)) {
            (Some(pattern), None) => Ok(Cow::Borrowed(pattern)),
            (None, Some(builtin)) => Ok(Cow::Owned(builtin.pattern())),
            (Some(_), Some(_)) => Err(RuleError::Rule {
                rule: self.id.clone(),
                why: "a built-in rule takes no pattern".into(),
            }),
            (None, None) => Err(RuleError::Rule {
                rule: self.id.clone(),
                why: "not a built-in rule; a custom rule needs a pattern".into(),
            }),
        }
    }
}

/// Why a rule set was refused; it names the rule (its id, or its place in the list).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule {rule}: {why}")]
    Rule { rule: String, why: String },
    #[error("at most {MAX_RULES} rules")]
    TooManyRules,
    #[error("the patterns together take more than {MAX_TOTAL_PATTERN_BYTES} bytes")]
    TooLarge,
    #[error("the rules together compile to more than the limit ({0})")]
    Compiled(String),
}

/// What the rules decide about one post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Refused by this rule.
    Reject { rule: String },
    /// Stored with this body (masked where a `mask` rule matched), and reported once for
    /// each `flag` rule that matched (in the set's order).
    Store {
        body: Cow<'a, str>,
        flagged: Vec<String>,
    },
}

/// The rules one kind of sender's posts go through: the custom rules as one compiled
/// [`RegexSet`] (one pass answers whether any matches), the built-in ones each on its own
/// behind its gate ([`Builtin::gate`]).
#[derive(Clone, Debug)]
struct Compiled {
    set: RegexSet,
    /// The rule (index into the set's rules) of each of `set`'s patterns.
    in_set: Vec<usize>,
    /// The built-in rules, by index.
    builtins: Vec<usize>,
}

impl Compiled {
    fn none() -> Compiled {
        Compiled {
            set: RegexSet::empty(),
            in_set: Vec::new(),
            builtins: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.in_set.is_empty() && self.builtins.is_empty()
    }
}

/// A rule set compiled to check posts.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Each rule's own regex: a built-in's check, and every rule's spans for a `mask`.
    each: Vec<Regex>,
    /// Each built-in rule's gate, if it has one.
    gates: Vec<Option<Regex>>,
    /// Every rule: what people's posts go through.
    users: Compiled,
    /// Rules for `all` only: what bots' and the system's posts go through.
    automated: Compiled,
}

impl Default for RuleSet {
    /// No rules: every post is stored as sent.
    fn default() -> Self {
        RuleSet {
            rules: Vec::new(),
            each: Vec::new(),
            gates: Vec::new(),
            users: Compiled::none(),
            automated: Compiled::none(),
        }
    }
}

fn regex(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source)
        .size_limit(COMPILED_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
}

/// The rules of `chosen` (indexes into `rules`): the custom ones in one set.
fn compiled(
    rules: &[Rule],
    sources: &[Cow<'_, str>],
    chosen: impl Iterator<Item = usize>,
) -> Result<Compiled, RuleError> {
    let (builtins, in_set): (Vec<usize>, Vec<usize>) =
        chosen.partition(|&index| rules[index].pattern.is_none());
    let set = RegexSetBuilder::new(in_set.iter().map(|&index| sources[index].as_ref()))
        .size_limit(COMPILED_SIZE_LIMIT)
        .dfa_size_limit(DFA_SIZE_LIMIT)
        .build()
        .map_err(|err| RuleError::Compiled(last_line(&err.to_string())))?;
    Ok(Compiled {
        set,
        in_set,
        builtins,
    })
}

/// The last non-empty line of a regex error (the one that says what is wrong).
fn last_line(text: &str) -> String {
    text.lines()
        .rfind(|line| !line.trim().is_empty())
        .unwrap_or(text)
        .trim()
        .to_string()
}

impl RuleSet {
    /// Compiles `rules`, or refuses them all, naming the first rule at fault.
    pub fn compile(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        if rules.len() > MAX_RULES {
            return Err(RuleError::TooManyRules);
        }
        let mut sources = Vec::with_capacity(rules.len());
        let mut total = 0;
        for (index, rule) in rules.iter().enumerate() {
            if rules[..index].iter().any(|other| other.id == rule.id) {
                return Err(RuleError::Rule {
                    rule: rule.id.clone(),
                    why: "listed twice".into(),
                });
            }
            let source = rule.regex_source()?;
            if rule.pattern.is_some() {
                if source.is_empty() {
                    return Err(RuleError::Rule {
                        rule: rule.id.clone(),
                        why: "the pattern is empty".into(),
                    });
                }
                if source.len() > MAX_PATTERN_BYTES {
                    return Err(RuleError::Rule {
                        rule: rule.id.clone(),
                        why: format!("the pattern is longer than {MAX_PATTERN_BYTES} bytes"),
                    });
                }
            }
            total += source.len();
            sources.push(source);
        }
        if total > MAX_TOTAL_PATTERN_BYTES {
            return Err(RuleError::TooLarge);
        }
        let mut each = Vec::with_capacity(rules.len());
        let mut gates = Vec::with_capacity(rules.len());
        for (rule, source) in rules.iter().zip(&sources) {
            let invalid = |err: regex::Error| RuleError::Rule {
                rule: rule.id.clone(),
                why: format!("not a valid regex: {}", last_line(&err.to_string())),
            };
            let regex = regex(source).map_err(invalid)?;
            let gate = match Builtin::parse(&rule.id).filter(|_| rule.pattern.is_none()) {
                Some(builtin) => builtin.gate().map(|gate| self::regex(&gate)).transpose(),
                None => Ok(None),
            };
            gates.push(gate.map_err(invalid)?);
            if regex.is_match("") {
                return Err(RuleError::Rule {
                    rule: rule.id.clone(),
                    why: "the pattern matches an empty text, so it would match every post".into(),
                });
            }
            each.push(regex);
        }
        let users = compiled(&rules, &sources, 0..rules.len())?;
        let automated = compiled(
            &rules,
            &sources,
            (0..rules.len()).filter(|&index| rules[index].applies_to == AppliesTo::All),
        )?;
        Ok(RuleSet {
            rules,
            each,
            gates,
            users,
            automated,
        })
    }

    /// The rules, in the order given.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What the rules decide about `body` posted by `sender`: the first `reject` rule that
    /// matches refuses it; otherwise every `mask` rule's matches are masked and every
    /// `flag` rule that matches the body as sent is named. When no rule matches: one pass
    /// of the custom rules' set, and each built-in's literal search.
    pub fn check<'a>(&self, sender: Sender, body: &'a str) -> Verdict<'a> {
        let compiled = match sender {
            Sender::User => &self.users,
            Sender::Automated => &self.automated,
        };
        let unchanged = || Verdict::Store {
            body: Cow::Borrowed(body),
            flagged: Vec::new(),
        };
        if compiled.is_empty() || body.is_empty() {
            return unchanged();
        }
        let mut matched: Vec<usize> = compiled
            .builtins
            .iter()
            .copied()
            .filter(|&index| match &self.gates[index] {
                None => self.each[index].is_match(body),
                Some(gate) => gated_match(gate, &self.each[index], body),
            })
            .collect();
        if !compiled.in_set.is_empty() && compiled.set.is_match(body) {
            matched.extend(
                compiled
                    .set
                    .matches(body)
                    .into_iter()
                    .map(|at| compiled.in_set[at]),
            );
        }
        if matched.is_empty() {
            return unchanged();
        }
        // In the set's order, so that the first `reject` is the one listed first.
        matched.sort_unstable();
        if let Some(&index) = matched
            .iter()
            .find(|&&index| self.rules[index].action == Action::Reject)
        {
            return Verdict::Reject {
                rule: self.rules[index].id.clone(),
            };
        }
        let mut spans = Vec::new();
        let mut flagged = Vec::new();
        for &index in &matched {
            match self.rules[index].action {
                Action::Mask => spans.extend(
                    self.each[index]
                        .find_iter(body)
                        .map(|found| (found.start(), found.end())),
                ),
                Action::Flag => flagged.push(self.rules[index].id.clone()),
                Action::Reject => {}
            }
        }
        let body = if spans.is_empty() {
            Cow::Borrowed(body)
        } else {
            Cow::Owned(mask(body, spans))
        };
        Verdict::Store { body, flagged }
    }
}

/// Bytes around a gate's match that a built-in's match containing it can reach: more than
/// any host name label, scheme or e-mail address part the patterns take.
const GATE_REACH: usize = 512;
/// Gate matches looked at one by one; past these, the whole body is searched.
const GATE_HITS: usize = 16;

/// Whether `pattern` (a built-in's) matches `body`, searched only near the matches of its
/// `gate`: every match of a built-in holds one of its gate's within [`GATE_REACH`] bytes of
/// its start, so a long message with one link costs a short search, not a whole scan. (A
/// window's edge could only make a match of a token longer than the reach, which is then
/// an address anyway.)
fn gated_match(gate: &Regex, pattern: &Regex, body: &str) -> bool {
    let mut hits = gate.find_iter(body);
    for _ in 0..GATE_HITS {
        let Some(hit) = hits.next() else {
            return false;
        };
        let mut start = hit.start().saturating_sub(GATE_REACH);
        while !body.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (hit.end() + GATE_REACH).min(body.len());
        while !body.is_char_boundary(end) {
            end += 1;
        }
        if pattern.is_match(&body[start..end]) {
            return true;
        }
    }
    hits.next().is_some() && pattern.is_match(body)
}

/// `body` with every code point inside one of `spans` (byte ranges on char boundaries,
/// possibly overlapping) replaced by [`MASK`].
pub fn mask(body: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::with_capacity(body.len() + 2 * spans.len());
    let mut at = 0;
    for (start, end) in spans {
        let start = start.max(at);
        if end <= start {
            continue;
        }
        out.push_str(&body[at..start]);
        out.extend(std::iter::repeat_n(MASK, body[start..end].chars().count()));
        at = end;
    }
    out.push_str(&body[at..]);
    out
}

#[cfg(test)]
mod tests;
