//! Redis implementations of the signalling domain's ports: live calls
//! ([`crate::signalling::registry::CallRegistry`]) and SFU load and health
//! ([`crate::signalling::sfu::board::SfuBoard`]), shared by every node. The one place
//! where a domain module meets Redis: the domain defines the port and never imports
//! Redis, the bus carries frames and never imports the domain. And the mentoring
//! domain's mail port ([`crate::mentoring::digest::Mailer`]) over SMTP ([`smtp`]).

mod redis_calls;
mod redis_sfu;
pub mod smtp;

pub use redis_calls::RedisCallRegistry;
pub use redis_sfu::RedisSfuBoard;
