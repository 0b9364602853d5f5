//! see benches/
