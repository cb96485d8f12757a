//! A private bounds-checked cursor. Every read either succeeds or reports how many
//! octets were missing; nothing here can panic or read out of bounds.

/// A cursor over a byte slice that remembers its absolute position in the message.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Absolute offset of `buf[0]` within the whole message.
    base: usize,
}

/// A short read: how many more octets were needed, at which absolute offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Short {
    pub needed: usize,
    pub offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Absolute offset of the next octet.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Position relative to the start of this reader's slice.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if self.remaining() < n {
            return Err(Short { needed: n - self.remaining(), offset: self.offset() });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A sub-reader over the next `n` octets, advancing past them.
    #[inline]
    pub(crate) fn sub(&mut self, n: usize) -> Result<Reader<'a>, Short> {
        let base = self.offset();
        Ok(Reader::new(self.take(n)?, base))
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, Short> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(Short { needed: 1, offset: self.offset() }),
        }
    }

    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, Short> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, Short> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
}
