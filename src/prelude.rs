//! prelude (in progress)
