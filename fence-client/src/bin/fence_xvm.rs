//! The fence agent; `fence_xvm` and `fence_virt` are the same program and
//! the name it is started under picks the default transport.

fn main() -> std::process::ExitCode {
    fence_client::main_from_env()
}
