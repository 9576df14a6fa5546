//! Files users upload (docs/protocol.md section 9; docs/files.md): what the bytes are and their
//! thumbnail (`detect`), and the clean-up of uploads no message refers to (`sweep`). The
//! HTTP routes are in `http/files`, the rows in `db/files.rs`.

pub mod detect;
pub mod sweep;
