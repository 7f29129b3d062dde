//! trailtriage finds failed AWS role assumptions in CloudTrail logs and says
//! why each one failed, with an honest confidence and the evidence that made
//! the cause fire.
//!
//! The pipeline is `source -> decode -> scan -> prefilter -> parse -> select
//! -> classify -> sinks`; see `design.md` in the repository for the
//! architecture, and `causes.md` for the domain rules.
//!
//! ```
//! use trailtriage::pipeline::{ScanOptions, Worker};
//! use trailtriage::select::Prefilter;
//!
//! let log = br#"{"Records":[{"eventVersion":"1.08","eventTime":"2026-10-01T12:00:00Z",
//!   "eventID":"e1","eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
//!   "awsRegion":"us-east-1","recipientAccountId":"111122223333",
//!   "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},
//!   "errorCode":"AccessDenied",
//!   "errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Deploy because no identity-based policy allows the sts:AssumeRole action",
//!   "requestParameters":null}]}"#;
//! let opts = ScanOptions::default();
//! let pf = Prefilter::new(opts.select);
//! let result = Worker::new().process_bytes("example.json", log, &opts, &pf);
//! assert_eq!(result.findings[0].cause_id, "missing_identity_permission");
//! assert_eq!(result.findings[0].confidence, "certain");
//! assert_eq!(result.findings[0].target_role_arn.as_deref(), Some("arn:aws:iam::111122223333:role/Deploy"));
//! ```

#![forbid(unsafe_code)]

pub mod burst;
pub mod classify;
pub mod decode;
pub mod error;
pub mod event;
pub mod explain;
pub mod filter;
pub mod finding;
pub mod norm;
pub mod pipeline;
pub mod policy;
pub mod scan;
pub mod select;
pub mod shard;
pub mod sink;
pub mod slow;
pub mod source;
pub mod state;
pub mod util;

pub use classify::{Confidence, SelectOptions, Severity};
pub use error::{Error, InputError};
pub use finding::Finding;
pub use pipeline::{ScanOptions, Stats};
