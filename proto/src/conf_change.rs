//! Membership changes: the two wire forms (`ConfChange`, `ConfChangeV2`), how
//! a change decides between a simple step and a joint configuration (thesis
//! §4.3), and a compact text form used by tests and tools.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2,
};

/// A membership change in either wire form.
///
/// raft applies every change as a [`ConfChangeV2`]; a [`ConfChange`] (v1) is
/// the special case of one change with the `Auto` transition. Proposals keep
/// their form on the wire (v1 in an `EntryConfChange` entry, v2 in an
/// `EntryConfChangeV2` entry), which [`as_v1`](Self::as_v1) tells apart.
pub trait ConfChangeI {
    /// Converts into the v2 form, consuming the change.
    fn into_v2(self) -> ConfChangeV2;

    /// The v2 form: borrowed when the change already is one, built otherwise.
    fn as_v2(&self) -> Cow<'_, ConfChangeV2>;

    /// The v1 form, when the change is one.
    fn as_v1(&self) -> Option<&ConfChange>;
}

impl ConfChangeI for ConfChange {
    /// One change with the `Auto` transition and the same `context`. The v1
    /// `id` has no v2 counterpart and is dropped. The change type is copied as
    /// its raw wire number, so an unknown number stays visible to whoever
    /// applies the change.
    fn into_v2(self) -> ConfChangeV2 {
        let single = ConfChangeSingle {
            change_type: self.change_type,
            node_id: self.node_id,
            ..Default::default()
        };
        ConfChangeV2 {
            transition: ConfChangeTransition::Auto.into(),
            changes: vec![single],
            context: self.context,
            ..Default::default()
        }
    }

    fn as_v2(&self) -> Cow<'_, ConfChangeV2> {
        Cow::Owned(self.clone().into_v2())
    }

    fn as_v1(&self) -> Option<&ConfChange> {
        Some(self)
    }
}

impl ConfChangeI for ConfChangeV2 {
    fn into_v2(self) -> ConfChangeV2 {
        self
    }

    fn as_v2(&self) -> Cow<'_, ConfChangeV2> {
        Cow::Borrowed(self)
    }

    fn as_v1(&self) -> Option<&ConfChange> {
        None
    }
}

impl ConfChangeV2 {
    /// Whether applying this change goes through a joint configuration, and if
    /// so, whether raft leaves that configuration on its own.
    ///
    /// Returns `None` for a simple change: the `Auto` transition with at most
    /// one change, which moves directly to the new configuration (thesis
    /// §4.1). Otherwise returns `Some(auto_leave)`: the change enters a joint
    /// configuration (thesis §4.3), and `auto_leave` is `true` for `Auto` (more
    /// than one change) and `Implicit`, where the leader proposes the empty
    /// change that leaves it once the joint configuration is committed, and
    /// `false` for `Explicit`, where the application proposes that change.
    ///
    /// A transition number this version does not know reads as `Auto`, the
    /// same on every node, so such an entry is never a reason to panic.
    pub fn enter_joint(&self) -> Option<bool> {
        match self.transition() {
            ConfChangeTransition::Auto if self.changes.len() <= 1 => None,
            ConfChangeTransition::Auto | ConfChangeTransition::Implicit => Some(true),
            ConfChangeTransition::Explicit => Some(false),
        }
    }

    /// Whether this is the change that leaves a joint configuration: the
    /// `Auto` transition with no changes. `context` is ignored, so the
    /// application may attach data to it.
    pub fn leave_joint(&self) -> bool {
        self.transition() == ConfChangeTransition::Auto && self.changes.is_empty()
    }
}

/// Builds a single membership change of `ty` for `node_id`.
pub fn new_conf_change_single(node_id: u64, ty: ConfChangeType) -> ConfChangeSingle {
    let mut single = ConfChangeSingle::new();
    single.set_node_id(node_id);
    single.set_change_type(ty);
    single
}

/// Parses the text form of a list of changes: tokens separated by
/// whitespace, each a letter and a node id. `v3` adds voter 3, `l3` adds
/// learner 3, `r3` removes node 3, and `u3` updates node 3 (an add of a voter
/// that already exists, so it parses as `AddNode`). An empty string is no
/// changes.
///
/// ```
/// use raft_proto::eraftpb::ConfChangeType;
/// use raft_proto::{new_conf_change_single, parse_conf_change};
///
/// let changes = parse_conf_change("v1 l2 r3").unwrap();
/// assert_eq!(changes[1], new_conf_change_single(2, ConfChangeType::AddLearnerNode));
/// assert!(parse_conf_change("x1").is_err());
/// ```
///
/// # Errors
///
/// A message naming the offending token when a token starts with another
/// letter or its id is not a decimal `u64`.
pub fn parse_conf_change(s: &str) -> Result<Vec<ConfChangeSingle>, String> {
    s.split_whitespace().map(parse_token).collect()
}

/// Parses one token of the text form, such as `v12`.
fn parse_token(token: &str) -> Result<ConfChangeSingle, String> {
    let mut chars = token.chars();
    let letter = chars.next().unwrap_or_default();
    let id = chars.as_str();
    let ty = match letter {
        'v' | 'u' => ConfChangeType::AddNode,
        'l' => ConfChangeType::AddLearnerNode,
        'r' => ConfChangeType::RemoveNode,
        _ => {
            return Err(format!(
                "unknown conf change {token:?}: expected v, l, r or u followed by a node id"
            ))
        }
    };
    // `u64::from_str` also takes a leading '+'; the text form does not.
    if id.is_empty() || !id.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!(
            "invalid node id in conf change {token:?}: expected decimal digits after {letter:?}"
        ));
    }
    let node_id = id
        .parse::<u64>()
        .map_err(|error| format!("invalid node id in conf change {token:?}: {error}"))?;
    Ok(new_conf_change_single(node_id, ty))
}

/// Writes changes in the text form read by [`parse_conf_change`], one token
/// per change separated by single spaces. Updates cannot be told from adds,
/// so both print as `v`. A change type number this version does not know
/// prints as `v`, the way [`ConfChangeSingle::change_type`] reads it.
pub fn stringify_conf_change(changes: &[ConfChangeSingle]) -> String {
    let mut text = String::new();
    for (position, change) in changes.iter().enumerate() {
        if position > 0 {
            text.push(' ');
        }
        let letter = match change.change_type() {
            ConfChangeType::AddNode => 'v',
            ConfChangeType::AddLearnerNode => 'l',
            ConfChangeType::RemoveNode => 'r',
        };
        // Writing to a String cannot fail.
        let _ = write!(text, "{letter}{}", change.node_id);
    }
    text
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use proptest::prelude::*;
    use protobuf::EnumOrUnknown;

    use super::*;

    fn change_v2(transition: ConfChangeTransition, changes: &str) -> ConfChangeV2 {
        ConfChangeV2 {
            transition: transition.into(),
            changes: parse_conf_change(changes).unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn enter_joint_and_leave_joint_truth_table() {
        use ConfChangeTransition::{Auto, Explicit, Implicit};
        // (transition, changes, enter_joint, leave_joint)
        let table = [
            (Auto, "", None, true),
            (Auto, "v1", None, false),
            (Auto, "v1 v2", Some(true), false),
            (Auto, "r1 l1 v3", Some(true), false),
            (Implicit, "", Some(true), false),
            (Implicit, "v1", Some(true), false),
            (Implicit, "v1 v2", Some(true), false),
            (Explicit, "", Some(false), false),
            (Explicit, "v1", Some(false), false),
            (Explicit, "v1 v2", Some(false), false),
        ];
        for (transition, changes, enter, leave) in table {
            let change = change_v2(transition, changes);
            assert_eq!(change.enter_joint(), enter, "{transition:?} {changes:?}");
            assert_eq!(change.leave_joint(), leave, "{transition:?} {changes:?}");
        }
    }

    #[test]
    fn leave_joint_ignores_context() {
        let mut change = change_v2(ConfChangeTransition::Auto, "");
        change.set_context(Bytes::from_static(b"app data"));
        assert!(change.leave_joint());
        assert_eq!(change.enter_joint(), None);
    }

    #[test]
    fn unknown_transition_number_reads_as_auto() {
        let mut change = change_v2(ConfChangeTransition::Auto, "v1 v2");
        change.transition = EnumOrUnknown::from_i32(7);
        assert_eq!(change.enter_joint(), Some(true));
        change.clear_changes();
        assert!(change.leave_joint());
    }

    #[test]
    fn conf_change_v1_becomes_one_auto_change_with_its_context() {
        let v1 = ConfChange {
            id: 9,
            change_type: ConfChangeType::AddLearnerNode.into(),
            node_id: 4,
            context: Bytes::from_static(b"ctx"),
            ..Default::default()
        };
        assert_eq!(v1.as_v1(), Some(&v1));
        let expected = ConfChangeV2 {
            transition: ConfChangeTransition::Auto.into(),
            changes: vec![new_conf_change_single(4, ConfChangeType::AddLearnerNode)],
            context: Bytes::from_static(b"ctx"),
            ..Default::default()
        };
        let borrowed = v1.as_v2();
        assert!(matches!(borrowed, Cow::Owned(_)));
        assert_eq!(*borrowed, expected);
        assert_eq!(v1.into_v2(), expected);
        assert_eq!(expected.enter_joint(), None);
    }

    #[test]
    fn conf_change_v1_keeps_an_unknown_change_type_number() {
        let v1 = ConfChange {
            change_type: EnumOrUnknown::from_i32(42),
            node_id: 1,
            ..Default::default()
        };
        assert_eq!(v1.into_v2().changes[0].change_type.value(), 42);
    }

    #[test]
    fn conf_change_v2_converts_to_itself() {
        let mut v2 = change_v2(ConfChangeTransition::Explicit, "v1 r2");
        v2.set_context(Bytes::from_static(b"v2"));
        assert_eq!(v2.as_v1(), None);
        let borrowed = v2.as_v2();
        assert!(matches!(borrowed, Cow::Borrowed(b) if std::ptr::eq(b, &v2)));
        assert_eq!(v2.clone().into_v2(), v2);
    }

    #[test]
    fn new_conf_change_single_sets_both_fields() {
        let single = new_conf_change_single(7, ConfChangeType::RemoveNode);
        assert_eq!(single.node_id, 7);
        assert_eq!(single.change_type(), ConfChangeType::RemoveNode);
        assert_eq!(single.special_fields, Default::default());
    }

    #[test]
    fn parse_reads_each_letter() {
        let parsed = parse_conf_change("  v1 l2\tr3\nu4 v18446744073709551615 ").unwrap();
        let expected = vec![
            new_conf_change_single(1, ConfChangeType::AddNode),
            new_conf_change_single(2, ConfChangeType::AddLearnerNode),
            new_conf_change_single(3, ConfChangeType::RemoveNode),
            new_conf_change_single(4, ConfChangeType::AddNode),
            new_conf_change_single(u64::MAX, ConfChangeType::AddNode),
        ];
        assert_eq!(parsed, expected);
        assert_eq!(parse_conf_change("").unwrap(), vec![]);
        assert_eq!(parse_conf_change(" \t ").unwrap(), vec![]);
    }

    #[test]
    fn parse_rejects_bad_tokens_naming_them() {
        let cases = [
            ("x1", "unknown conf change \"x1\""),
            ("v1 V2", "unknown conf change \"V2\""),
            ("é1", "unknown conf change \"é1\""),
            ("v", "invalid node id in conf change \"v\""),
            ("l+3", "invalid node id in conf change \"l+3\""),
            ("r-3", "invalid node id in conf change \"r-3\""),
            ("v1,", "invalid node id in conf change \"v1,\""),
            ("u0x10", "invalid node id in conf change \"u0x10\""),
            (
                "v18446744073709551616",
                "invalid node id in conf change \"v18446744073709551616\"",
            ),
        ];
        for (input, expected_prefix) in cases {
            let error = parse_conf_change(input).unwrap_err();
            assert!(
                error.starts_with(expected_prefix),
                "{input:?} gave {error:?}, expected it to start with {expected_prefix:?}"
            );
        }
    }

    #[test]
    fn stringify_writes_the_text_form() {
        assert_eq!(stringify_conf_change(&[]), "");
        let changes = parse_conf_change("v1 l2 r3 u4").unwrap();
        assert_eq!(stringify_conf_change(&changes), "v1 l2 r3 v4");
    }

    fn any_change() -> impl Strategy<Value = ConfChangeSingle> {
        let ty = prop::sample::select(ConfChangeType::values());
        (any::<u64>(), ty).prop_map(|(id, ty)| new_conf_change_single(id, ty))
    }

    proptest! {
        #[test]
        fn stringify_then_parse_is_identity(changes in prop::collection::vec(any_change(), 0..8)) {
            let text = stringify_conf_change(&changes);
            prop_assert_eq!(parse_conf_change(&text).unwrap(), changes);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}") {
            if let Ok(changes) = parse_conf_change(&text) {
                // Whatever parses prints back to something that parses the same.
                let again = parse_conf_change(&stringify_conf_change(&changes)).unwrap();
                prop_assert_eq!(again, changes);
            }
        }
    }
}
