//! What every protocol's HTTP front shares, written once: the [`Protocol`] trait a format crate implements and
//! the generic dispatch around it ([`mount`]: classify → admit → handle → label the response for the audit
//! layer and metrics), admission against the operation's requirement ([`admission`]), failures before a
//! protocol renders them ([`problem`]), the origin clients reach ([`site`]) and small helpers ([`util`]). The audit middleware itself stays the one in `vigil_audit::layer`, around every route.

pub mod admission;
pub mod download;
pub mod problem;
pub mod protocol;
pub mod site;
pub mod util;

pub use admission::{Caller, Refusal};
pub use problem::Problem;
pub use protocol::{mount, Front, Mounted, Protocol};
pub use site::Site;
