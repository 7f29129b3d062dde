//! Structural scanner: finds the records inside one decoded input without
//! building a JSON document. It understands every input shape trailtriage
//! accepts (design.md §2):
//!
//! * the CloudTrail envelope `{"Records":[...]}`
//! * a bare JSON array of records
//! * NDJSON / concatenated JSON values (SIEM exports), each value a record or an envelope
//! * a single record
//! * LookupEvents output (`{"Events":[{"CloudTrailEvent":"<json string>"}]}`) and single
//!   LookupEvents events
//! * the EventBridge envelope (`{"detail-type":..., "detail":{record}}`)
//!
//! The scanner tracks strings (with escapes) and nesting only; the records it
//! hands out are parsed fully later, and only if they can matter.

use memchr::memchr2;

/// Which block scanner this build compiled: `avx2` (x86-64-v3 builds, with
/// the needle-pair masks), `sse2` (any x86-64) or `portable`.
pub const BLOCK_SCANNER: &str = structural::KIND;

/// One record found by the scanner.
pub enum Rec<'a> {
    /// The record's bytes inside the input.
    Raw(&'a [u8]),
    /// As `Raw`, and the scanner saw no backslash anywhere in the record
    /// (checked per 64-byte block, so a `false` never lies): no `\u` escape
    /// can spell a pre-filter needle, and the escape search can be skipped.
    Plain(&'a [u8]),
    /// As `Plain`, and no block of the record holds a needle pair: neither
    /// `errorCode` nor `SwitchRole` occurs in it (each holds `rC` or `hR`,
    /// and with no backslash they can only be spelled literally). Only
    /// builds whose block scanner computes the pairs (AVX2) hand these out.
    Clean(&'a [u8]),
    /// A record that had to be unescaped (LookupEvents `CloudTrailEvent` strings).
    Owned(Vec<u8>),
    /// Something sat where a record belongs but is not one (reason).
    Bad(String),
}

/// The input could not be scanned to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub offset: usize,
    pub reason: String,
}

/// What the scanner saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanSummary {
    /// Number of top-level JSON values.
    pub values: usize,
    /// The input holds nothing but whitespace.
    pub empty: bool,
    /// No top-level value was recognised as CloudTrail (e.g. a Digest file).
    pub unrecognized: bool,
}

fn err<T>(offset: usize, reason: impl Into<String>) -> Result<T, ScanError> {
    Err(ScanError {
        offset,
        reason: reason.into(),
    })
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// `i` points at an opening quote; returns the index after the closing quote.
#[inline]
fn skip_string(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut j = i + 1;
    loop {
        match memchr2(b'"', b'\\', &b[j.min(b.len())..]) {
            None => return err(i, "unterminated string"),
            Some(k) => {
                let p = j + k;
                if b[p] == b'"' {
                    return Ok(p + 1);
                }
                // backslash: skip it and the escaped byte
                j = p + 2;
                if j > b.len() {
                    return err(i, "unterminated string");
                }
            }
        }
    }
}

/// `i` points at the first byte of a value; returns the index after it.
fn skip_value(b: &[u8], i: usize) -> Result<usize, ScanError> {
    match b.get(i) {
        None => err(i, "unexpected end of input, expected a value"),
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => skip_container(b, i),
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
            {
                if matches!(b[j], b'{' | b'[' | b'"' | b':') {
                    return err(j, "unexpected character in scalar");
                }
                j += 1;
            }
            if j == i {
                return err(i, "expected a value");
            }
            Ok(j)
        }
    }
}

/// `i` points at `{` or `[`; returns the index after the matching close.
///
/// Uses the block walker: strings, escapes and brackets are found 64 bytes
/// at a time, and only brackets outside strings are visited one by one.
fn skip_container(b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut w = structural::Walker::new(b, i);
    let mut stack = structural::Stack::default();
    while let Some(j) = w.next_bracket() {
        let c = b[j];
        if c == b'{' || c == b'[' {
            if !stack.push(c) {
                return err(j, "JSON nested too deeply");
            }
        } else {
            if !stack.pop_matches(c) {
                return err(j, "mismatched bracket");
            }
            if stack.is_empty() {
                return Ok(j + 1);
            }
        }
    }
    if w.ends_in_string() {
        err(i, "unterminated string")
    } else {
        err(i, "unexpected end of input inside an object or array")
    }
}

/// The elements of a `Records` array, fast path: `a` points at `[`. Handles
/// the shape every CloudTrail file has (objects separated by `,` and
/// whitespace) in one pass of the block walker, emitting each object. At the
/// first thing it does not handle (another kind of element, a bad separator,
/// a structural error, the end of input) it stops and says where the
/// generic element loop must resume, so errors and odd shapes are handled by
/// exactly the same code as before.
fn records_fast<'a>(b: &'a [u8], a: usize, emit: &mut dyn FnMut(Rec<'a>)) -> Result<usize, Resume> {
    let mut w = structural::Walker::new(b, a);
    let mut last_end = a + 1;
    let mut after_element = false;
    let resume = |last_end, after_element| Resume {
        at: last_end,
        after_element,
    };
    // The brackets open inside the current record; empty between records.
    let mut stack = structural::Stack::default();
    // Where the current record starts.
    let mut p = a;
    // One call site of `next_bracket` (it is inlined here, block scanner
    // and all): between records each bracket starts the next record or
    // closes the array; inside one it nests or closes.
    let mut first = true;
    loop {
        let Some(q) = w.next_bracket() else {
            return Err(resume(last_end, after_element));
        };
        if first {
            // The first bracket is the `[` at `a` itself.
            if q != a {
                return Err(Resume {
                    at: a + 1,
                    after_element: false,
                });
            }
            first = false;
            continue;
        }
        let c = b[q];
        if stack.is_empty() {
            // Only whitespace, and one comma after an element, may sit in the gap.
            let mut g = skip_ws(b, last_end);
            if c == b']' {
                if g == q {
                    return Ok(q + 1);
                }
                return Err(resume(last_end, after_element));
            }
            if after_element {
                if b.get(g) != Some(&b',') {
                    return Err(resume(last_end, after_element));
                }
                g = skip_ws(b, g + 1);
            }
            if g != q || c != b'{' {
                return Err(resume(last_end, after_element));
            }
            stack.push(b'{');
            w.mark();
            p = q;
            continue;
        }
        if c == b'{' || c == b'[' {
            if !stack.push(c) {
                return Err(resume(last_end, after_element));
            }
            continue;
        }
        if !stack.pop_matches(c) {
            return Err(resume(last_end, after_element));
        }
        if stack.is_empty() {
            let rec = &b[p..q + 1];
            emit(if w.backslash_since_mark() {
                Rec::Raw(rec)
            } else if w.pair_since_mark() {
                Rec::Plain(rec)
            } else {
                Rec::Clean(rec)
            });
            last_end = q + 1;
            after_element = true;
        }
    }
}

/// Where the generic element loop takes over from [`records_fast`].
struct Resume {
    at: usize,
    after_element: bool,
}

mod structural {
    //! Block-at-a-time structure finding (the idea of simdjson's stage 1):
    //! for 64 bytes at a time, bit masks of quotes, backslashes and brackets
    //! give, with a few integer operations, which bytes are inside strings;
    //! brackets outside strings are then visited by their bit positions.
    //! Blocks with a backslash are walked byte by byte, so the result is
    //! exactly what a byte-at-a-time JSON reader sees, even on invalid JSON.
    //! The masks come from AVX2 in x86-64-v3 builds (the repository's
    //! default, which also marks needle pairs for `Rec::Clean`), from SSE2 in
    //! other x86-64 builds, both through `safe_arch` (no `unsafe` of ours),
    //! and from a byte-at-a-time loop elsewhere. The choice is made at
    //! compile time (`BLOCK_SCANNER` says which).

    /// Bracket stack with a hard depth limit (hostile input cannot exhaust memory).
    pub const MAX_DEPTH: usize = 512;

    /// One bit per open bracket: 1 for `{`, 0 for `[`.
    #[derive(Default)]
    pub struct Stack {
        bits: [u64; MAX_DEPTH / 64],
        depth: usize,
    }

    impl Stack {
        #[inline]
        pub fn push(&mut self, c: u8) -> bool {
            if self.depth >= MAX_DEPTH {
                return false;
            }
            let (w, k) = (self.depth / 64, self.depth % 64);
            if c == b'{' {
                self.bits[w] |= 1 << k;
            } else {
                self.bits[w] &= !(1 << k);
            }
            self.depth += 1;
            true
        }

        /// Pop if the top matches the closing bracket `c`.
        #[inline]
        pub fn pop_matches(&mut self, c: u8) -> bool {
            if self.depth == 0 {
                return false;
            }
            let d = self.depth - 1;
            let is_obj = self.bits[d / 64] >> (d % 64) & 1 == 1;
            if is_obj != (c == b'}') {
                return false;
            }
            self.depth = d;
            true
        }

        #[inline]
        pub fn is_empty(&self) -> bool {
            self.depth == 0
        }
    }

    struct Masks {
        quote: u64,
        /// Non-zero if and only if the block holds a backslash (the SIMD
        /// versions do not say where: nothing needs to know).
        backslash: u64,
        bracket: u64,
        /// Bytes that may start a needle pair (`r` or `h`) and bytes that
        /// may end one (`C` or `R`): `rC` is in `errorCode`, `hR` in
        /// `SwitchRole`. A version that does not compute them sets both to
        /// all ones, which only means "maybe" everywhere.
        pair_first: u64,
        pair_second: u64,
    }

    /// AVX2 (a build for x86-64-v3, see `.cargo/config.toml`): 32 bytes per
    /// compare, and the needle-pair masks, which pay at this width (they did
    /// not with SSE2; BENCHMARKS.md).
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    #[inline(always)]
    fn masks_avx2(blk: &[u8; 64]) -> Masks {
        use safe_arch::*;
        // Loaded from `&[u8; 16]` halves: an array passed by value here made
        // LLVM assemble each vector byte by byte (seven times slower).
        #[inline(always)]
        fn load(blk: &[u8; 64], at: usize) -> m256i {
            let half = |k: usize| -> &[u8; 16] { blk[k..k + 16].try_into().unwrap_or(&[0; 16]) };
            set_m128i_m256i(
                load_unaligned_m128i(half(at + 16)),
                load_unaligned_m128i(half(at)),
            )
        }
        #[inline(always)]
        fn bits(m: m256i) -> u64 {
            move_mask_i8_m256i(m) as u32 as u64
        }
        let vq = set_splat_i8_m256i(b'"' as i8);
        let vb = set_splat_i8_m256i(b'\\' as i8);
        let vo = set_splat_i8_m256i(b'{' as i8);
        let vc = set_splat_i8_m256i(b'}' as i8);
        let v20 = set_splat_i8_m256i(0x20);
        let vr = set_splat_i8_m256i(b'r' as i8);
        let vh = set_splat_i8_m256i(b'h' as i8);
        let vcc = set_splat_i8_m256i(b'C' as i8);
        let vrr = set_splat_i8_m256i(b'R' as i8);
        let (a, b) = (load(blk, 0), load(blk, 32));
        let (la, lb) = (bitor_m256i(a, v20), bitor_m256i(b, v20));
        let quote = bits(cmp_eq_mask_i8_m256i(a, vq)) | bits(cmp_eq_mask_i8_m256i(b, vq)) << 32;
        let backslash = bits(bitor_m256i(
            cmp_eq_mask_i8_m256i(a, vb),
            cmp_eq_mask_i8_m256i(b, vb),
        ));
        let br = |l: m256i| {
            bits(bitor_m256i(
                cmp_eq_mask_i8_m256i(l, vo),
                cmp_eq_mask_i8_m256i(l, vc),
            ))
        };
        let first = |v: m256i| {
            bits(bitor_m256i(
                cmp_eq_mask_i8_m256i(v, vr),
                cmp_eq_mask_i8_m256i(v, vh),
            ))
        };
        let second = |v: m256i| {
            bits(bitor_m256i(
                cmp_eq_mask_i8_m256i(v, vcc),
                cmp_eq_mask_i8_m256i(v, vrr),
            ))
        };
        Masks {
            quote,
            backslash,
            bracket: br(la) | br(lb) << 32,
            pair_first: first(a) | first(b) << 32,
            pair_second: second(a) | second(b) << 32,
        }
    }

    /// SSE2 (every x86-64): no needle-pair masks.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[cfg_attr(target_feature = "avx2", allow(dead_code))]
    #[inline(always)]
    fn masks_sse2(blk: &[u8; 64]) -> Masks {
        use safe_arch::*;
        let vq = set_splat_i8_m128i(b'"' as i8);
        let vb = set_splat_i8_m128i(b'\\' as i8);
        let vo = set_splat_i8_m128i(b'{' as i8);
        let vc = set_splat_i8_m128i(b'}' as i8);
        // `[`|0x20 == `{` and `]`|0x20 == `}`; no other byte maps there.
        let v20 = set_splat_i8_m128i(0x20);
        let (mut q, mut br) = (0u64, 0u64);
        let mut any_bs = set_splat_i8_m128i(0);
        for (part, chunk) in blk.chunks_exact(16).enumerate() {
            let chunk: &[u8; 16] = chunk.try_into().unwrap_or(&[0; 16]);
            let v = load_unaligned_m128i(chunk);
            let l = bitor_m128i(v, v20);
            let sh = 16 * part;
            q |= (move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, vq)) as u32 as u64) << sh;
            any_bs = bitor_m128i(any_bs, cmp_eq_mask_i8_m128i(v, vb));
            let b = bitor_m128i(cmp_eq_mask_i8_m128i(l, vo), cmp_eq_mask_i8_m128i(l, vc));
            br |= (move_mask_i8_m128i(b) as u32 as u64) << sh;
        }
        Masks {
            quote: q,
            backslash: move_mask_i8_m128i(any_bs) as u32 as u64,
            bracket: br,
            pair_first: !0,
            pair_second: !0,
        }
    }

    /// Byte at a time (other architectures; and the reference in tests).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    #[inline(always)]
    fn masks_portable(blk: &[u8; 64]) -> Masks {
        let mut m = Masks {
            quote: 0,
            backslash: 0,
            bracket: 0,
            pair_first: 0,
            pair_second: 0,
        };
        for (k, &c) in blk.iter().enumerate() {
            let l = c | 0x20;
            m.quote |= u64::from(c == b'"') << k;
            m.backslash |= u64::from(c == b'\\') << k;
            m.bracket |= u64::from(l == b'{' || l == b'}') << k;
            m.pair_first |= u64::from(c == b'r' || c == b'h') << k;
            m.pair_second |= u64::from(c == b'C' || c == b'R') << k;
        }
        m
    }

    #[inline(always)]
    fn masks(blk: &[u8; 64]) -> Masks {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
        return masks_avx2(blk);
        #[cfg(all(
            target_arch = "x86_64",
            target_feature = "sse2",
            not(target_feature = "avx2")
        ))]
        return masks_sse2(blk);
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
        return masks_portable(blk);
    }

    /// Which block scanner this build compiled (for the benchmarks and
    /// `examples/scan_files`).
    pub const KIND: &str = if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
        "avx2"
    } else if cfg!(all(target_arch = "x86_64", target_feature = "sse2")) {
        "sse2"
    } else {
        "portable"
    };

    /// Bit k of the result is the xor of bits 0..=k of `x`.
    #[inline(always)]
    fn prefix_xor(mut x: u64) -> u64 {
        x ^= x << 1;
        x ^= x << 2;
        x ^= x << 4;
        x ^= x << 8;
        x ^= x << 16;
        x ^= x << 32;
        x
    }

    /// Visits, in order, the positions of brackets outside strings from a
    /// starting position that must itself be outside any string.
    pub struct Walker<'a> {
        b: &'a [u8],
        block: usize,
        next_block: usize,
        bits: u64,
        /// All ones when the previous block ended inside a string.
        in_string: u64,
        /// The previous block ended with a backslash inside a string.
        escape_pending: bool,
        /// The last byte of the previous block may start a needle pair.
        pair_carry: u64,
        /// What the current block holds and what some block since
        /// [`Walker::mark`] (including the block current then) held, as bits
        /// (`Flags`). One integer rather than four `bool`s: LLVM's SLP
        /// vectorizer packed four adjacent `bool` stores into vector code
        /// that cost more than the rest of the block's bookkeeping.
        flags: u32,
    }

    /// Bits of [`Walker::flags`].
    struct Flags;
    impl Flags {
        /// The current block holds a backslash.
        const BLOCK_BACKSLASH: u32 = 1;
        /// Some block since the mark held a backslash.
        const BACKSLASH_SEEN: u32 = 2;
        /// The current block holds the end of a needle pair.
        const BLOCK_PAIR: u32 = 4;
        /// Some block since the mark held the end of a needle pair.
        const PAIR_SEEN: u32 = 8;
        /// The "since the mark" bits are the block bits shifted left by one.
        const BLOCK: u32 = Self::BLOCK_BACKSLASH | Self::BLOCK_PAIR;
    }

    impl<'a> Walker<'a> {
        pub fn new(b: &'a [u8], start: usize) -> Walker<'a> {
            Walker {
                b,
                block: start,
                next_block: start,
                bits: 0,
                in_string: 0,
                escape_pending: false,
                pair_carry: 0,
                flags: 0,
            }
        }

        /// A block holding a backslash (rare in CloudTrail) is walked byte by
        /// byte, exactly as JSON reads it: a backslash escapes the next byte
        /// inside a string and means nothing outside one. Returns the mask of
        /// bytes inside strings.
        #[cold]
        fn strings_bytewise(&mut self, pos: usize) -> u64 {
            let end = self.b.len().min(pos + 64);
            let mut inside = self.in_string != 0;
            let mut esc = self.escape_pending;
            let mut strings = 0u64;
            for (k, &c) in self.b[pos..end].iter().enumerate() {
                if inside {
                    if esc {
                        esc = false;
                    } else if c == b'\\' {
                        esc = true;
                    } else if c == b'"' {
                        inside = false;
                        continue;
                    }
                    strings |= 1 << k;
                } else if c == b'"' {
                    inside = true;
                    strings |= 1 << k;
                }
            }
            if inside && end - pos < 64 {
                // The padding of the last block is "inside" too.
                strings |= !0u64 << (end - pos);
            }
            self.in_string = if inside { !0 } else { 0 };
            self.escape_pending = esc;
            strings
        }

        /// Start watching for backslashes from the current block on.
        #[inline]
        pub fn mark(&mut self) {
            let block = self.flags & Flags::BLOCK;
            self.flags = block | block << 1;
        }

        /// Did any block since [`Walker::mark`] hold the end of a needle
        /// pair (`r` or `h`, then `C` or `R`)? A `false` is a proof that the
        /// bytes since the mark's block hold neither `errorCode` nor
        /// `SwitchRole` (each contains such a pair). Always `true` in builds
        /// whose block scanner does not compute the pairs.
        #[inline]
        pub fn pair_since_mark(&self) -> bool {
            self.flags & Flags::PAIR_SEEN != 0
        }

        /// Did any block since [`Walker::mark`] hold a backslash?
        #[inline]
        pub fn backslash_since_mark(&self) -> bool {
            self.flags & Flags::BACKSLASH_SEEN != 0
        }

        /// The input ended inside a string.
        pub fn ends_in_string(&self) -> bool {
            self.in_string != 0
        }

        /// The next bracket outside strings. `masks` has one call site here:
        /// with two (a full block and the padded last one) LLVM's
        /// vectorizers turned the x86-64-v3 build's mask assembly into
        /// byte-by-byte code several times slower. Inlined into each caller
        /// (each has one call site), so the walk's state stays in registers.
        #[inline(always)]
        pub fn next_bracket(&mut self) -> Option<usize> {
            loop {
                if self.bits != 0 {
                    let k = self.bits.trailing_zeros() as usize;
                    self.bits &= self.bits - 1;
                    return Some(self.block + k);
                }
                let pos = self.next_block;
                if pos >= self.b.len() {
                    return None;
                }
                let mut tail = [b' '; 64];
                let blk: &[u8; 64] = match self.b.get(pos..pos + 64) {
                    Some(s) => s.try_into().unwrap_or(&tail),
                    None => {
                        let rest = &self.b[pos..];
                        tail[..rest.len()].copy_from_slice(rest);
                        &tail
                    }
                };
                let m = masks(blk);
                let backslash = m.backslash != 0 || self.escape_pending;
                let pair = ((m.pair_first << 1) | self.pair_carry) & m.pair_second != 0;
                self.pair_carry = m.pair_first >> 63;
                let block = (u32::from(backslash) * Flags::BLOCK_BACKSLASH)
                    | (u32::from(pair) * Flags::BLOCK_PAIR);
                self.flags = (self.flags & !Flags::BLOCK) | block | block << 1;
                let strings = if !backslash {
                    let strings = prefix_xor(m.quote) ^ self.in_string;
                    self.in_string = ((strings as i64) >> 63) as u64;
                    strings
                } else {
                    self.strings_bytewise(pos)
                };
                self.bits = m.bracket & !strings;
                self.block = pos;
                self.next_block = pos + 64;
            }
        }
    }

    /// Every block scanner this build compiled (AVX2, SSE2, portable), and
    /// `prefix_xor`, against a byte-at-a-time reference.
    #[cfg(test)]
    mod simd_tests {
        use super::*;

        type MasksFn = fn(&[u8; 64]) -> Masks;

        fn variants() -> Vec<(&'static str, MasksFn)> {
            let mut v: Vec<(&'static str, MasksFn)> =
                vec![("portable", masks_portable), ("dispatch", masks)];
            #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
            v.push(("sse2", masks_sse2));
            #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
            v.push(("avx2", masks_avx2));
            v
        }

        #[test]
        fn masks_and_prefix_xor_match_a_bytewise_reference() {
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
            let alphabet = b"\"\\{}[]:,ab \x7b\xfb\xdd\x00rhCRc";
            let variants = variants();
            for round in 0..20_000 {
                let mut blk = [0u8; 64];
                for c in &mut blk {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *c = if round % 3 == 0 {
                        (seed >> 24) as u8
                    } else {
                        alphabet[(seed >> 40) as usize % alphabet.len()]
                    };
                }
                let (mut q, mut bs, mut br, mut p1, mut p2) = (0u64, 0u64, 0u64, 0u64, 0u64);
                for (k, &c) in blk.iter().enumerate() {
                    q |= u64::from(c == b'"') << k;
                    bs |= u64::from(c == b'\\') << k;
                    br |= u64::from(matches!(c, b'{' | b'}' | b'[' | b']')) << k;
                    p1 |= u64::from(matches!(c, b'r' | b'h')) << k;
                    p2 |= u64::from(matches!(c, b'C' | b'R')) << k;
                }
                for (name, f) in &variants {
                    let m = f(&blk);
                    assert_eq!((m.quote, m.bracket), (q, br), "{name} {blk:?}");
                    assert_eq!(m.backslash != 0, bs != 0, "{name} {blk:?}");
                    // Pair masks may only over-approximate.
                    assert_eq!(m.pair_first & p1, p1, "{name} {blk:?}");
                    assert_eq!(m.pair_second & p2, p2, "{name} {blk:?}");
                    if *name == "portable" || *name == "avx2" {
                        assert_eq!((m.pair_first, m.pair_second), (p1, p2), "{name} {blk:?}");
                    }
                }
                let mut want = 0u64;
                let mut acc = 0u64;
                for k in 0..64 {
                    acc ^= seed >> k & 1;
                    want |= acc << k;
                }
                assert_eq!(prefix_xor(seed), want, "{seed:#x}");
            }
        }
    }
}

/// Decode a JSON string token (with quotes) into its text.
fn string_value(tok: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    let inner = &tok[1..tok.len() - 1];
    if memchr::memchr(b'\\', inner).is_none() {
        return std::str::from_utf8(inner)
            .ok()
            .map(std::borrow::Cow::Borrowed);
    }
    serde_json::from_slice::<String>(tok)
        .ok()
        .map(std::borrow::Cow::Owned)
}

#[derive(Default)]
struct ObjInfo {
    is_record: bool,
    expanded: bool,
    detail: Option<(usize, usize)>,
    has_detail_type: bool,
    cloudtrail_event: Option<(usize, usize)>,
}

/// Iterate the elements of an array at `i` (pointing at `[`), calling `each`
/// with the element's span. Returns the index after `]`.
fn for_each_element(
    b: &[u8],
    i: usize,
    each: impl FnMut(usize, usize) -> Result<(), ScanError>,
) -> Result<usize, ScanError> {
    for_each_element_from(b, i + 1, false, each)
}

/// The element loop from `at`: just after `[` (`after_element == false`) or
/// just after an element.
fn for_each_element_from(
    b: &[u8],
    at: usize,
    after_element: bool,
    mut each: impl FnMut(usize, usize) -> Result<(), ScanError>,
) -> Result<usize, ScanError> {
    let mut j = skip_ws(b, at);
    if after_element {
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b']') => return Ok(j + 1),
            None => return err(j, "unexpected end of input inside an array"),
            Some(_) => return err(j, "expected ',' or ']' in array"),
        }
    } else if b.get(j) == Some(&b']') {
        return Ok(j + 1);
    }
    loop {
        let start = j;
        let end = skip_value(b, start)?;
        each(start, end)?;
        j = skip_ws(b, end);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b']') => return Ok(j + 1),
            None => return err(j, "unexpected end of input inside an array"),
            Some(_) => return err(j, "expected ',' or ']' in array"),
        }
    }
}

/// Scan an object at `i`: expand `Records` / `Events` arrays on the fly and
/// note what else it holds. Returns the index after `}`.
fn scan_object<'a>(
    b: &'a [u8],
    i: usize,
    emit: &mut dyn FnMut(Rec<'a>),
    info: &mut ObjInfo,
) -> Result<usize, ScanError> {
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Ok(j + 1);
    }
    loop {
        if b.get(j) != Some(&b'"') {
            return err(j, "expected a key string");
        }
        let kend = skip_string(b, j)?;
        let key = string_value(&b[j..kend]).unwrap_or_default();
        j = skip_ws(b, kend);
        if b.get(j) != Some(&b':') {
            return err(j, "expected ':' after key");
        }
        j = skip_ws(b, j + 1);
        let vstart = j;
        let first = b.get(j).copied();
        let vend = match (&*key, first) {
            ("Records", Some(b'[')) => {
                info.expanded = true;
                match records_fast(b, vstart, emit) {
                    Ok(end) => end,
                    Err(resume) => {
                        for_each_element_from(b, resume.at, resume.after_element, |s, e| {
                            if b[s] == b'{' {
                                emit(Rec::Raw(&b[s..e]));
                            } else {
                                emit(Rec::Bad(format!(
                                    "element of Records at byte {s} is not an object"
                                )));
                            }
                            Ok(())
                        })?
                    }
                }
            }
            ("Events", Some(b'[')) => {
                info.expanded = true;
                for_each_element(b, vstart, |s, e| {
                    if b[s] != b'{' {
                        emit(Rec::Bad(format!(
                            "element of Events at byte {s} is not an object"
                        )));
                        return Ok(());
                    }
                    let mut inner = ObjInfo::default();
                    let mut nothing = |_r: Rec<'a>| {};
                    scan_object(b, s, &mut nothing, &mut inner)?;
                    emit_lookup_or_bad(b, s, e, &inner, emit);
                    Ok(())
                })?
            }
            ("detail", Some(b'{')) => {
                let e = skip_value(b, vstart)?;
                info.detail = Some((vstart, e));
                e
            }
            ("CloudTrailEvent", Some(b'"')) => {
                let e = skip_value(b, vstart)?;
                info.cloudtrail_event = Some((vstart, e));
                e
            }
            (k, _) => {
                if matches!(
                    k,
                    "eventVersion" | "eventName" | "eventSource" | "eventTime"
                ) {
                    info.is_record = true;
                }
                if k == "detail-type" {
                    info.has_detail_type = true;
                }
                skip_value(b, vstart)?
            }
        };
        j = skip_ws(b, vend);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b'}') => return Ok(j + 1),
            None => return err(j, "unexpected end of input inside an object"),
            Some(_) => return err(j, "expected ',' or '}' in object"),
        }
    }
}

fn emit_lookup_or_bad<'a>(
    b: &'a [u8],
    s: usize,
    e: usize,
    inner: &ObjInfo,
    emit: &mut dyn FnMut(Rec<'a>),
) {
    if let Some((cs, ce)) = inner.cloudtrail_event {
        match serde_json::from_slice::<String>(&b[cs..ce]) {
            Ok(text) => emit(Rec::Owned(text.into_bytes())),
            Err(e2) => emit(Rec::Bad(format!(
                "CloudTrailEvent at byte {cs} is not a valid string: {e2}"
            ))),
        }
    } else if inner.is_record {
        emit(Rec::Raw(&b[s..e]));
    } else {
        emit(Rec::Bad(format!(
            "object at byte {s} has no CloudTrailEvent and is not a record"
        )));
    }
}

/// Scan a whole decoded input and hand out its records in order.
///
/// Records found before a structural error are handed out; the error says
/// where scanning stopped.
pub fn scan<'a>(b: &'a [u8], emit: &mut dyn FnMut(Rec<'a>)) -> Result<ScanSummary, ScanError> {
    let mut summary = ScanSummary::default();
    let mut i = 0;
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        i = 3;
    }
    i = skip_ws(b, i);
    if i >= b.len() {
        summary.empty = true;
        return Ok(summary);
    }
    let mut recognized = false;
    while i < b.len() {
        summary.values += 1;
        match b[i] {
            b'[' => {
                // Elements that are not records are held back until the first
                // record shows that this array is a log; an array with no
                // record at all is not CloudTrail (e.g. a sidecar file), and
                // its elements are not counted as malformed records.
                let mut pending: Vec<String> = Vec::new();
                let mut any_record = false;
                i = for_each_element(b, i, |s, e| {
                    let mut bad: Option<String> = None;
                    if b[s] == b'{' {
                        let mut info = ObjInfo::default();
                        let mut probe = |_r: Rec<'a>| {};
                        // Arrays may hold envelopes or LookupEvents events too.
                        scan_object(b, s, &mut probe, &mut info)?;
                        if info.expanded
                            || info.is_record
                            || info.detail.is_some()
                            || info.cloudtrail_event.is_some()
                        {
                            if !any_record {
                                any_record = true;
                                for reason in pending.drain(..) {
                                    emit(Rec::Bad(reason));
                                }
                            }
                            if info.expanded {
                                scan_object(b, s, emit, &mut ObjInfo::default())?;
                            } else {
                                finish_object(b, s, e, &info, emit);
                            }
                        } else {
                            bad = Some(format!("object at byte {s} is not a CloudTrail record"));
                        }
                    } else {
                        bad = Some(format!("array element at byte {s} is not an object"));
                    }
                    if let Some(reason) = bad {
                        if any_record {
                            emit(Rec::Bad(reason));
                        } else {
                            pending.push(reason);
                        }
                    }
                    Ok(())
                })?;
                recognized |= any_record || pending.is_empty();
            }
            b'{' => {
                let s = i;
                let mut info = ObjInfo::default();
                let e = scan_object(b, s, emit, &mut info)?;
                if info.expanded
                    || info.is_record
                    || info.detail.is_some()
                    || info.cloudtrail_event.is_some()
                {
                    recognized = true;
                    finish_object(b, s, e, &info, emit);
                } else if summary.values > 1 {
                    emit(Rec::Bad(format!(
                        "value at byte {s} is not a CloudTrail record"
                    )));
                }
                i = e;
            }
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
            }
            _ => return err(i, "expected a JSON object or array"),
        }
        i = skip_ws(b, i);
    }
    summary.unrecognized = !recognized;
    Ok(summary)
}

/// After scanning an object: emit it (or the record it wraps) unless its
/// arrays were already expanded.
fn finish_object<'a>(
    b: &'a [u8],
    s: usize,
    e: usize,
    info: &ObjInfo,
    emit: &mut dyn FnMut(Rec<'a>),
) {
    if info.expanded {
        return;
    }
    if info.is_record {
        emit(Rec::Raw(&b[s..e]));
    } else if let (Some((ds, de)), true) = (info.detail, info.has_detail_type) {
        emit(Rec::Raw(&b[ds..de]));
    } else if info.cloudtrail_event.is_some() {
        emit_lookup_or_bad(b, s, e, info, emit);
    } else if let Some((ds, de)) = info.detail {
        emit(Rec::Raw(&b[ds..de]));
    } else {
        emit(Rec::Bad(format!(
            "object at byte {s} is not a CloudTrail record"
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(b: &[u8]) -> (Vec<String>, Result<ScanSummary, ScanError>) {
        let mut out = Vec::new();
        let r = scan(b, &mut |r| {
            out.push(match r {
                Rec::Raw(x) | Rec::Plain(x) | Rec::Clean(x) => {
                    String::from_utf8_lossy(x).into_owned()
                }
                Rec::Owned(x) => format!("owned:{}", String::from_utf8_lossy(&x)),
                Rec::Bad(m) => format!("bad:{m}"),
            })
        });
        (out, r)
    }

    #[test]
    fn envelope() {
        let (r, s) = collect(br#"{"Records":[{"eventName":"A"},{"eventName":"B\"}"}]}"#);
        assert_eq!(r, vec![r#"{"eventName":"A"}"#, r#"{"eventName":"B\"}"}"#]);
        assert!(!s.unwrap().unrecognized);
    }

    /// `Plain` is a promise that the record holds no backslash; it may be
    /// withheld (block granularity) but never given wrongly.
    #[test]
    fn plain_only_when_the_record_has_no_backslash() {
        let pad = "x".repeat(50);
        let doc = format!(
            r#"{{"Records":[{{"a":"{pad}"}},{{"b":"q\"{pad}"}},{{"c":"{pad}"}},{{"d":"{pad}{pad}{pad}"}},{{"f":"{pad}{pad}"}},{{"e":"\u0041"}}]}}"#
        );
        let mut kinds = Vec::new();
        scan(doc.as_bytes(), &mut |r| match r {
            Rec::Plain(x) | Rec::Clean(x) => {
                assert!(!x.contains(&b'\\'), "{}", String::from_utf8_lossy(x));
                kinds.push('P');
            }
            Rec::Raw(_) => kinds.push('R'),
            _ => kinds.push('?'),
        })
        .unwrap();
        assert_eq!(kinds.len(), 6);
        assert_eq!(kinds[1], 'R');
        assert_eq!(kinds[5], 'R');
        // The long record far from any backslash is recognized as plain.
        assert_eq!(kinds[3], 'P', "{kinds:?}");
        // Exhaustive over where a backslash falls relative to block bounds.
        for shift in 0..70 {
            let doc = format!(
                r#"{{"Records":[{{"a":"{}"}},{{"b":"\n"}},{{"c":"{}"}}]}}"#,
                "y".repeat(shift),
                "z".repeat(shift)
            );
            scan(doc.as_bytes(), &mut |r| {
                if let Rec::Plain(x) | Rec::Clean(x) = r {
                    assert!(!x.contains(&b'\\'), "shift {shift}");
                }
            })
            .unwrap();
        }
    }

    proptest::proptest! {
        /// Random records over an alphabet rich in backslashes and quotes:
        /// a `Plain` record never holds a backslash, and none is lost.
        #[test]
        fn plain_promise_holds_on_random_records(parts in proptest::collection::vec("[xy\\\\\"]{0,90}", 1..8)) {
            let recs: Vec<String> = parts
                .iter()
                .map(|p| format!(r#"{{"k":"{}"}}"#, p.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let doc = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
            let mut n = 0;
            scan(doc.as_bytes(), &mut |r| {
                if let Rec::Plain(x) | Rec::Clean(x) = r {
                    assert!(!x.contains(&b'\\'));
                }
                n += 1;
            })
            .unwrap();
            proptest::prop_assert_eq!(n, recs.len());
        }
    }

    fn has_needle(x: &[u8]) -> bool {
        memchr::memmem::find(x, b"errorCode").is_some()
            || memchr::memmem::find(x, b"SwitchRole").is_some()
    }

    /// `Clean` is a promise that the record holds neither `errorCode` nor
    /// `SwitchRole` (and no backslash); it may be withheld (block
    /// granularity) but never given wrongly. Exhaustive over where a needle
    /// falls relative to the 64-byte blocks, including a pair split across
    /// two blocks.
    #[test]
    fn clean_only_when_the_record_has_no_needle() {
        for needle in ["errorCode", "SwitchRole"] {
            for shift in 0..140 {
                let doc = format!(
                    r#"{{"Records":[{{"a":"{}"}},{{"b":"{}{needle}{}"}},{{"c":"{}"}}]}}"#,
                    "y".repeat(shift % 70),
                    "z".repeat(shift),
                    "v".repeat(64),
                    "w".repeat(200),
                );
                let mut kinds = String::new();
                scan(doc.as_bytes(), &mut |r| match r {
                    Rec::Clean(x) => {
                        assert!(!has_needle(x), "{needle} shift {shift}");
                        assert!(!x.contains(&b'\\'));
                        kinds.push('C');
                    }
                    Rec::Plain(x) | Rec::Raw(x) => {
                        kinds.push(if has_needle(x) { 'N' } else { 'P' })
                    }
                    _ => kinds.push('?'),
                })
                .unwrap();
                assert_eq!(kinds.len(), 3, "{kinds}");
                assert_eq!(&kinds[1..2], "N", "{needle} shift {shift}: {kinds}");
                if super::structural::KIND == "avx2" {
                    // 64 bytes after the needle, the last record shares no
                    // block with it.
                    assert_eq!(&kinds[2..], "C", "{needle} shift {shift}: {kinds}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Random records over an alphabet that spells the needles and their
        /// pairs often: a `Clean` record never holds a needle, and none is lost.
        #[test]
        fn clean_promise_holds_on_random_records(parts in proptest::collection::vec("(errorCode|SwitchRole|rC|hR|Code|Switch|[rhCRx ]){0,40}", 1..10)) {
            let recs: Vec<String> = parts.iter().map(|p| format!(r#"{{"k":"{p}"}}"#)).collect();
            let doc = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
            let mut n = 0;
            scan(doc.as_bytes(), &mut |r| {
                if let Rec::Clean(x) = r {
                    assert!(!has_needle(x), "{}", String::from_utf8_lossy(x));
                }
                n += 1;
            })
            .unwrap();
            proptest::prop_assert_eq!(n, recs.len());
        }
    }

    #[test]
    fn bare_array_and_ndjson() {
        let (r, _) = collect(b"[{\"eventName\":\"A\"}, {\"eventName\":\"B\"}]");
        assert_eq!(r.len(), 2);
        let (r, _) = collect(b"{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}\n");
        assert_eq!(r, vec!["{\"eventName\":\"A\"}", "{\"eventName\":\"B\"}"]);
    }

    #[test]
    fn lookup_events_and_eventbridge() {
        let (r, _) = collect(
            br#"{"Events":[{"EventId":"1","CloudTrailEvent":"{\"eventName\":\"AssumeRole\"}"}]}"#,
        );
        assert_eq!(r, vec![r#"owned:{"eventName":"AssumeRole"}"#]);
        let (r, _) = collect(br#"{"version":"0","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"X"}}"#);
        assert_eq!(r, vec![r#"{"eventName":"X"}"#]);
    }

    #[test]
    fn array_of_non_records_is_unrecognized_not_malformed() {
        let (r, s) = collect(br#"[{"rule":"a"},{"rule":"b"}]"#);
        assert!(r.is_empty());
        assert!(s.unwrap().unrecognized);
        let (r, _) = collect(br#"[{"rule":"a"},{"eventName":"X"},7]"#);
        assert_eq!(r.len(), 3);
        assert!(r[0].starts_with("bad:") && r[2].starts_with("bad:"));
    }

    #[test]
    fn digest_is_unrecognized() {
        let (r, s) = collect(br#"{"awsAccountId":"1","digestStartTime":"x"}"#);
        assert!(r.is_empty());
        assert!(s.unwrap().unrecognized);
    }

    #[test]
    fn truncated_keeps_earlier_records() {
        let (r, s) = collect(br#"{"Records":[{"eventName":"A"},{"eventName":"B""#);
        assert_eq!(r, vec![r#"{"eventName":"A"}"#]);
        assert!(s.is_err());
    }

    #[test]
    fn empty_and_zero_records() {
        assert!(collect(b"  \n").1.unwrap().empty);
        let (r, s) = collect(br#"{"Records":[]}"#);
        assert!(r.is_empty());
        assert!(!s.unwrap().unrecognized);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let mut v = b"{\"Records\":[{\"a\":".to_vec();
        v.extend(std::iter::repeat_n(b'[', 100_000));
        let (_, s) = collect(&v);
        assert!(s.is_err());
    }
}
