//! Bounded little-endian encoding of protocol messages.
//!
//! The decoder reads bytes that a hostile peer chose, so every read is checked
//! against what is left and never panics; a short or inconsistent message is
//! a [`WireError`], which the server answers with `EBADMSG`.

use thiserror::Error;

/// The largest message either side sends or accepts, in bytes. One extended
/// attribute value (64 KiB at most on Linux) plus its header must fit.
pub const MAX_MESSAGE: usize = 128 * 1024;

/// Why a message could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    /// The message ended before a field it announced.
    #[error("message truncated: wanted {wanted} more bytes, {left} left")]
    Truncated {
        /// Bytes the next field needed.
        wanted: usize,
        /// Bytes that were left in the message.
        left: usize,
    },
    /// A message carried bytes after its last field.
    #[error("message has {0} trailing bytes")]
    Trailing(usize),
    /// A field held a value the protocol does not define.
    #[error("invalid value for {field}: {value}")]
    Invalid {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u64,
    },
}

/// Appends fields to a message buffer.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Appends a u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends an i64.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a length-prefixed byte string. Longer than `u32::MAX` cannot
    /// fit in a message anyway, so the length saturates and the peer rejects it.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.buf.extend_from_slice(v);
        self
    }
}

/// Reads fields from a received message, checking every length.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::Truncated { wanted: n, left: self.buf.len() });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a u16.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a u32.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a u64.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads an i64.
    pub fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// Reads a length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// Reads a count that prefixes a list, refusing counts that could not fit
    /// in what is left when each element takes at least `min_size` bytes. This
    /// keeps a forged count from making the reader allocate for it.
    pub fn count(&mut self, min_size: usize) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        let need = n.saturating_mul(min_size.max(1));
        if need > self.buf.len() {
            return Err(WireError::Truncated { wanted: need, left: self.buf.len() });
        }
        Ok(n)
    }

    /// Fails if bytes are left over.
    pub fn end(&self) -> Result<(), WireError> {
        if self.buf.is_empty() { Ok(()) } else { Err(WireError::Trailing(self.buf.len())) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut e = Encoder::new();
        e.u8(7).u16(300).u32(70000).u64(1 << 40).i64(-5).bytes(b"name");
        let buf = e.finish();
        let mut d = Decoder::new(&buf);
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.u16().unwrap(), 300);
        assert_eq!(d.u32().unwrap(), 70000);
        assert_eq!(d.u64().unwrap(), 1 << 40);
        assert_eq!(d.i64().unwrap(), -5);
        assert_eq!(d.bytes().unwrap(), b"name");
        d.end().unwrap();
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut e = Encoder::new();
        e.u32(1).bytes(b"abcdef").u64(9);
        let buf = e.finish();
        for cut in 0..buf.len() {
            let mut d = Decoder::new(&buf[..cut]);
            let r = d.u32().and_then(|_| d.bytes()).and_then(|_| d.u64());
            assert!(r.is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn forged_count_is_refused_before_allocation() {
        let mut e = Encoder::new();
        e.u32(u32::MAX).u8(0);
        let buf = e.finish();
        assert!(Decoder::new(&buf).count(8).is_err());
    }
}
