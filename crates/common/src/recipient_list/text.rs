//! The bytes of a list as text: line endings made exact for the CSV reader, UTF-16 turned
//! into UTF-8, and the encoding of the rest decided once, so it cannot change mid-file.

use std::io::{self, Read};

use encoding_rs::{Decoder, Encoding, EUC_KR, UTF_8, WINDOWS_1252};

/// The encoding of the list's text (after any UTF-16 has been turned into UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// CP949 (EUC-KR and its extension), as Korean Excel writes CSV.
    Cp949,
    /// Windows-1252, as Western-European Excel writes "CSV (comma delimited)".
    Windows1252,
    /// Only ASCII so far, the same in either: the first row that is not decides.
    Undecided,
}

impl TextEncoding {
    /// From the list's first bytes: a BOM decides (UTF-16 is read as UTF-8 once converted);
    /// bytes that are not UTF-8 are CP949 or Windows-1252 by [`legacy`]; UTF-8 beyond ASCII
    /// means UTF-8; plain ASCII
    /// decides nothing yet. Returns the length of the BOM and the UTF-16 encoding to convert.
    pub fn detect(sample: &[u8]) -> (Self, usize, Option<&'static Encoding>) {
        if let Some((encoding, bom)) = Encoding::for_bom(sample) {
            return (Self::Utf8, bom, (encoding != UTF_8).then_some(encoding));
        }
        let decided = match std::str::from_utf8(sample) {
            Ok(text) if text.is_ascii() => Self::Undecided,
            Ok(_) => Self::Utf8,
            // A sequence cut at the end of the sample is fine.
            Err(e) if e.error_len().is_none() && sample[..e.valid_up_to()].is_ascii() => Self::Undecided,
            Err(e) if e.error_len().is_none() => Self::Utf8,
            Err(_) => legacy(sample),
        };
        (decided, 0, None)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 | Self::Undecided => "UTF-8",
            Self::Cp949 => "EUC-KR",
            Self::Windows1252 => "windows-1252",
        }
    }

    /// One row's fields as text, deciding an undecided encoding on the first row that is not
    /// ASCII. `None` if the row is not valid text in the list's encoding.
    pub fn decode_row(&mut self, fields: &csv::ByteRecord) -> Option<Vec<String>> {
        if *self == Self::Undecided && !fields.iter().all(|f| f.is_ascii()) {
            let utf8 = fields.iter().all(|f| std::str::from_utf8(f).is_ok());
            *self = if utf8 { Self::Utf8 } else { legacy(&fields.iter().collect::<Vec<_>>().join(&b',')) };
        }
        fields
            .iter()
            .map(|field| match self {
                Self::Utf8 | Self::Undecided => std::str::from_utf8(field).ok().map(str::to_string),
                Self::Cp949 => {
                    EUC_KR.decode_without_bom_handling_and_without_replacement(field).map(|text| text.into_owned())
                }
                Self::Windows1252 => WINDOWS_1252
                    .decode_without_bom_handling_and_without_replacement(field)
                    .map(|text| text.into_owned()),
            })
            .collect()
    }
}

/// The encoding of text that is not UTF-8, from all of `bytes`: CP949 when they read as Korean
/// text — valid CP949, with more of its double-byte characters in KS X 1001's Hangul and Hanja
/// rows (both bytes 0xA1 or above) than outside them — and Windows-1252 otherwise. A Western
/// accented letter is one byte followed by ASCII ("M\xfcller"), which CP949 either refuses or
/// reads as a rare extension syllable; Korean text is pairs of high bytes.
pub(super) fn legacy(bytes: &[u8]) -> TextEncoding {
    let (mut common, mut other, mut i) = (0usize, 0usize, 0);
    let mut end = bytes.len();
    while i < bytes.len() {
        if bytes[i] < 0x80 {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            // A character cut at the end of a sample says nothing.
            None => end = i,
            Some(&trail) if bytes[i] >= 0xA1 && trail >= 0xA1 => common += 1,
            Some(_) => other += 1,
        }
        i += 2;
    }
    let valid = EUC_KR.decode_without_bom_handling_and_without_replacement(&bytes[..end]).is_some();
    if valid && common > other {
        TextEncoding::Cp949
    } else {
        TextEncoding::Windows1252
    }
}

/// A reader that turns any supported encoding into UTF-8, streaming.
pub(super) struct Utf8Reader<R: Read> {
    pub(super) inner: R,
    pub(super) decoder: Option<Decoder>,
    pub(super) raw: Vec<u8>,
    pub(super) raw_start: usize,
    pub(super) raw_end: usize,
    pub(super) eof: bool,
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.raw_start == self.raw_end && !self.eof {
                self.raw_start = 0;
                self.raw_end = self.inner.read(&mut self.raw)?;
                self.eof = self.raw_end == 0;
            }
            let Some(decoder) = self.decoder.as_mut() else {
                // UTF-8 passes through untouched.
                let n = (self.raw_end - self.raw_start).min(out.len());
                out[..n].copy_from_slice(&self.raw[self.raw_start..self.raw_start + n]);
                self.raw_start += n;
                return Ok(n);
            };
            if out.len() < 4 {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "buffer too small to decode into"));
            }
            let (_, read, written, _) = decoder.decode_to_utf8(&self.raw[self.raw_start..self.raw_end], out, self.eof);
            self.raw_start += read;
            if written > 0 || (self.eof && self.raw_start == self.raw_end) {
                return Ok(written);
            }
        }
    }
}

/// Turns CRLF into LF and makes sure the text ends with a newline, so that the CSV reader's
/// line count is exact (it lags on CRLF and on a last line without a newline).
pub(super) struct LineEndings<R: Read> {
    pub(super) inner: R,
    pub(super) pending_cr: bool,
    pub(super) last_was_newline: bool,
    pub(super) done: bool,
}

impl<R: Read> Read for LineEndings<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.len() < 2 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "buffer too small"));
        }
        loop {
            if self.done {
                return Ok(0);
            }
            // Leave room for a held-back CR.
            let n = self.inner.read(&mut out[1..])?;
            if n == 0 {
                self.done = true;
                let mut len = 0;
                if std::mem::take(&mut self.pending_cr) {
                    out[0] = b'\r';
                    len = 1;
                    self.last_was_newline = false;
                }
                if !self.last_was_newline {
                    out[len] = b'\n';
                    len += 1;
                }
                return Ok(len);
            }
            let mut write = 0;
            let mut read = 1;
            if std::mem::take(&mut self.pending_cr) && out[1] != b'\n' {
                out[0] = b'\r';
                write = 1;
            }
            while read <= n {
                let byte = out[read];
                if byte == b'\r' {
                    if read == n {
                        self.pending_cr = true;
                        read += 1;
                        continue;
                    }
                    if out[read + 1] == b'\n' {
                        read += 1;
                        continue;
                    }
                }
                out[write] = byte;
                write += 1;
                read += 1;
            }
            if write > 0 {
                self.last_was_newline = out[write - 1] == b'\n';
                return Ok(write);
            }
        }
    }
}
