//! Cuts a function's output bytes into log lines, whichever runtime wrote them.

/// Longest line kept whole; longer output is split.
pub const MAX_LINE: usize = 16 * 1024;

/// Holds the unfinished end of the output between writes.
#[derive(Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Takes more output; `emit` gets each line that is now complete.
    pub fn push(&mut self, mut buf: &[u8], mut emit: impl FnMut(String)) {
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let (line, rest) = buf.split_at(end);
            if self.pending.is_empty() {
                emit(text(line));
            } else {
                self.pending.extend_from_slice(line);
                emit(text(&std::mem::take(&mut self.pending)));
            }
            buf = &rest[1..];
        }
        self.pending.extend_from_slice(buf);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            emit(text(&std::mem::replace(&mut self.pending, rest)));
        }
    }

    /// The output ended: what is left, if anything, is the last line.
    pub fn finish(&mut self, mut emit: impl FnMut(String)) {
        if !self.pending.is_empty() {
            emit(text(&std::mem::take(&mut self.pending)));
        }
    }
}

fn text(bytes: &[u8]) -> String {
    let line = String::from_utf8_lossy(bytes);
    line.trim_end_matches('\r').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_writes_into_lines() {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        splitter.push(b"hel", |l| lines.push(l));
        splitter.push(b"lo\nworld\r\nta", |l| lines.push(l));
        splitter.finish(|l| lines.push(l));
        assert_eq!(lines, ["hello", "world", "ta"]);
    }

    #[test]
    fn long_lines_come_out_in_pieces() {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        let long = vec![b'x'; MAX_LINE + 10];
        splitter.push(&long, |l| lines.push(l));
        splitter.push(b"\n", |l| lines.push(l));
        let lengths: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lengths, [MAX_LINE, 10]);
    }
}
