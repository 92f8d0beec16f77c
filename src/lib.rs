pub mod git;
pub mod tags;

pub fn hello() {}
