//! Table definitions shared by both backends (written by hand: the two migration folders
//! differ in column types, not in shape).

diesel::table! {
    users (id) {
        id -> BigInt,
        name -> Text,
        kind -> Text,
        handle -> Nullable<Text>,
        created_ms -> BigInt,
        name_key -> Nullable<Text>,
        external_sub -> Nullable<Text>,
        deactivated_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        token_hash -> Text,
        created_ms -> BigInt,
    }
}

diesel::table! {
    rooms (id) {
        id -> BigInt,
        kind -> Text,
        name -> Nullable<Text>,
        public -> Bool,
        owner_id -> Nullable<BigInt>,
        pair_key -> Nullable<Text>,
        created_ms -> BigInt,
        last_seq -> BigInt,
        authz_version -> BigInt,
        /// The last `rev` given in the room (section 11): 0 when nothing ever changed.
        last_rev -> BigInt,
    }
}

diesel::table! {
    members (room_id, user_id) {
        room_id -> BigInt,
        user_id -> BigInt,
        read_seq -> BigInt,
        joined_ms -> BigInt,
        /// `all`, `mentions` or `none`; NULL: the room kind's default (section 12).
        notify -> Nullable<Text>,
        /// `member` or `moderator` (the owner is `rooms.owner_id`; docs/safety.md).
        role -> Text,
        /// Muted until then (ms); NULL or past: not muted.
        muted_until_ms -> Nullable<BigInt>,
        /// In a direct room: a block stands between its two members (section 13).
        blocked -> Bool,
    }
}

diesel::table! {
    /// `blocker_id` shut out `blocked_id` (section 13).
    blocks (blocker_id, blocked_id) {
        blocker_id -> BigInt,
        blocked_id -> BigInt,
        created_ms -> BigInt,
    }
}

diesel::table! {
    messages (room_id, seq) {
        room_id -> BigInt,
        seq -> BigInt,
        sender_id -> BigInt,
        body -> Text,
        template -> Nullable<Text>,
        client_msg_id -> Nullable<Text>,
        action -> Nullable<Text>,
        created_ms -> BigInt,
        /// The `seq` of the message of the same room this one answers.
        reply_to_seq -> Nullable<BigInt>,
        edited_ms -> Nullable<BigInt>,
        deleted -> Bool,
        /// The room `rev` of the message's latest change; 0 when it never changed.
        rev -> BigInt,
    }
}

diesel::table! {
    mentions (room_id, seq, user_id) {
        room_id -> BigInt,
        seq -> BigInt,
        user_id -> BigInt,
    }
}

diesel::table! {
    reactions (room_id, seq, emoji, user_id) {
        room_id -> BigInt,
        seq -> BigInt,
        emoji -> Text,
        user_id -> BigInt,
        /// The `rev` that brought the emoji onto the message: the order of first use.
        emoji_rev -> BigInt,
        created_ms -> BigInt,
    }
}

diesel::table! {
    bots (id) {
        id -> Text,
        user_id -> BigInt,
        definition -> Text,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    bot_states (room_id) {
        room_id -> BigInt,
        state -> Text,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    files (id) {
        id -> Text,
        uploader_id -> BigInt,
        name -> Text,
        mime -> Text,
        size -> BigInt,
        sha256 -> Text,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        thumbnail -> Nullable<Binary>,
        thumbnail_mime -> Nullable<Text>,
        created_ms -> BigInt,
    }
}

diesel::table! {
    file_chunks (file_id, idx) {
        file_id -> Text,
        idx -> Integer,
        data -> Binary,
    }
}

diesel::table! {
    message_files (room_id, seq, position) {
        room_id -> BigInt,
        seq -> BigInt,
        position -> Integer,
        file_id -> Text,
    }
}

diesel::table! {
    devices (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        address -> Text,
        p256dh -> Nullable<Text>,
        auth -> Nullable<Text>,
        created_ms -> BigInt,
    }
}

diesel::table! {
    notifications (user_id, room_id, seq) {
        user_id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        decided_ms -> BigInt,
    }
}

diesel::table! {
    notify_windows (user_id, room_id) {
        user_id -> BigInt,
        room_id -> BigInt,
        sent_ms -> BigInt,
    }
}

diesel::table! {
    push_deliveries (id) {
        id -> BigInt,
        device_id -> BigInt,
        room_id -> BigInt,
        seq -> BigInt,
        payload -> Text,
        attempts -> Integer,
        created_ms -> BigInt,
        next_ms -> BigInt,
        expires_ms -> BigInt,
        lease_ms -> BigInt,
    }
}

diesel::table! {
    push_keys (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::joinable!(tokens -> users (user_id));
diesel::joinable!(devices -> users (user_id));
diesel::joinable!(push_deliveries -> devices (device_id));
diesel::joinable!(files -> users (uploader_id));
diesel::joinable!(file_chunks -> files (file_id));
diesel::joinable!(message_files -> files (file_id));
diesel::joinable!(bots -> users (user_id));
diesel::joinable!(members -> rooms (room_id));
diesel::joinable!(members -> users (user_id));
diesel::joinable!(messages -> users (sender_id));
diesel::joinable!(messages -> rooms (room_id));
diesel::joinable!(mentions -> users (user_id));
diesel::joinable!(reactions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    tokens,
    rooms,
    members,
    messages,
    mentions,
    reactions,
    bots,
    bot_states,
    files,
    file_chunks,
    message_files,
    devices,
    notifications,
    notify_windows,
    push_deliveries,
    push_keys,
    blocks
);

// Safety (docs/safety.md): content rules, reports and the audit log (`db/safety/`).

diesel::table! {
    content_rules (position) {
        position -> BigInt,
        id -> Text,
        pattern -> Nullable<Text>,
        action -> Text,
        applies_to -> Text,
    }
}

diesel::table! {
    content_rules_version (id) {
        id -> BigInt,
        version -> BigInt,
        updated_ms -> BigInt,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        status -> Text,
        reason -> Text,
        note -> Nullable<Text>,
        reporter_id -> Nullable<BigInt>,
        room_id -> BigInt,
        seq -> BigInt,
        sender_id -> BigInt,
        /// The wire's Message as it was when reported (JSON).
        message -> Text,
        created_ms -> BigInt,
        /// `{"action","note","at"}` once resolved (JSON).
        resolution -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at_ms -> BigInt,
        /// NULL: the admin API.
        actor_id -> Nullable<BigInt>,
        action -> Text,
        room_id -> Nullable<BigInt>,
        target -> Nullable<Text>,
        detail -> Text,
    }
}

// Roles, mutes and bans (docs/safety.md): roles and mutes are on `members`, bans here
// (`db/safety/standing.rs`).

diesel::table! {
    bans (room_id, user_id) {
        room_id -> BigInt,
        user_id -> BigInt,
        /// Who banned them (NULL: no one known).
        by_id -> Nullable<BigInt>,
        created_ms -> BigInt,
    }
}
