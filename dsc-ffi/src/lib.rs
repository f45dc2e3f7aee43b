//! C ABI over `dsc-core` (`libtraek`). Only the version is exported so far; the full API is
//! tracked in issue 6.

use std::ffi::c_char;

/// The library version as a static NUL-terminated UTF-8 string. Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn traek_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_a_nul_terminated_semver() {
        // SAFETY: traek_version returns a pointer to a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(super::traek_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
