//! Progress lines on stderr, so stdout stays the matrix.

pub fn line(msg: &str) {
    eprintln!("authmatrix: {msg}");
}
