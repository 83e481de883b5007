//! `containerd-shim-moat-v1`: containerd's shim v2 for moat. Not written yet;
//! it arrives with the containerd issue, and until then it says so.

fn main() {
    eprintln!("containerd-shim-moat-v1: not implemented yet; use moat with docker or containerd-shim-runc-v2");
    std::process::exit(1);
}
