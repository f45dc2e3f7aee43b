//! `traek-server`: the DSC pull server. Not implemented yet (issue 5).
fn main() -> std::process::ExitCode {
    eprintln!("error: traek-server is not implemented yet; the pull server is tracked in issue 5");
    std::process::ExitCode::from(2)
}
