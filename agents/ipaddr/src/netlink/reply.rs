//! The kernel's answers, datagram by datagram: split into messages by their
//! netlink headers (`netlink-packet-core`'s `NetlinkBuffer`, which checks
//! each length against the datagram), the end of a dump and the ACK or NACK
//! read through the crate's `DoneMessage` and `ErrorMessage`, and gathered
//! into one answer by [`Collect`]. What a message carries is read in
//! [`super::message`].
//!
//! Hardening kept from the hand-written codec: a length that runs past the
//! datagram ends it; an error message too short to hold its code, or with a
//! code that is no errno, is a protocol error and never an ACK; a dump that
//! the kernel ends with an error is an error, not a shorter list; and a dump
//! the kernel marks `NLM_F_DUMP_INTR` (another change raced it, so it may
//! miss entries) is flagged for the caller to read again.

use std::io;

use netlink_packet_core::{
    DoneBuffer, DoneMessage, ErrorBuffer, ErrorMessage, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR,
    NetlinkBuffer, Parseable,
};

/// The length of a netlink message header.
pub const HEADER_LEN: usize = 16;

/// One message of a reply datagram: its header fields and its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub body: &'a [u8],
}

/// The messages of one datagram, in order. A header whose length is
/// shorter than a header or runs past the datagram ends it: nothing after
/// a malformed message can be framed.
pub fn messages(datagram: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Ok(b) = NetlinkBuffer::new_checked(rest) else {
            rest = &[];
            return None;
        };
        let len = b.length() as usize;
        let m = Message {
            kind: b.message_type(),
            flags: b.flags(),
            seq: b.sequence_number(),
            body: &rest[HEADER_LEN..len],
        };
        rest = &rest[align4(len).min(rest.len())..];
        Some(m)
    })
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A kernel status word (`NLMSG_ERROR`'s, `NLMSG_DONE`'s): 0 is success, a
/// negative errno an error; anything else is no status the kernel sends.
fn status(code: i32, what: &str) -> io::Result<()> {
    match code {
        0 => Ok(()),
        e if (-4095..0).contains(&e) => Err(io::Error::from_raw_os_error(-e)),
        e => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a netlink {what} message with error {e}"),
        )),
    }
}

/// The answer an `NLMSG_ERROR` body carries: Ok for an ACK (error 0), the
/// errno otherwise. A body too short to hold the error, or a value that is
/// no negative errno, is a protocol error, never taken for an ACK.
pub fn error_status(body: &[u8]) -> io::Result<()> {
    let msg = ErrorBuffer::new_checked(&body)
        .and_then(|b| ErrorMessage::parse(&b))
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a truncated netlink error message",
            )
        })?;
    // Not ErrorMessage::to_io(): it negates the code, which overflows on
    // i32::MIN.
    status(msg.raw_code(), "error")
}

/// The end of a dump (`NLMSG_DONE`): its status word says whether the dump
/// finished or the kernel ended it on an error (then what came before is
/// not the whole list). An empty body is a plain end, as the kernel allows.
pub fn done_status(body: &[u8]) -> io::Result<()> {
    if body.is_empty() {
        return Ok(());
    }
    let msg = DoneBuffer::new_checked(&body)
        .and_then(|b| DoneMessage::parse(&b))
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a truncated netlink done message",
            )
        })?;
    status(msg.code, "done")
}

/// The replies to one request, gathered datagram by datagram: for a dump,
/// every message of kind `want` up to `NLMSG_DONE`; otherwise the one
/// answer (that message, or the ACK/NACK). Messages of other sequence
/// numbers (an earlier request's) are skipped.
pub struct Collect<T> {
    seq: u32,
    want: u16,
    dump: bool,
    parse: fn(&[u8]) -> Option<T>,
    /// What `parse` made of the wanted messages (those it could read).
    pub items: Vec<T>,
    /// The kernel flagged a message of this dump `NLM_F_DUMP_INTR`: the
    /// table changed while it was dumped, and the list may miss entries.
    pub interrupted: bool,
}

impl<T> Collect<T> {
    pub fn new(seq: u32, want: u16, dump: bool, parse: fn(&[u8]) -> Option<T>) -> Collect<T> {
        Collect {
            seq,
            want,
            dump,
            parse,
            items: Vec::new(),
            interrupted: false,
        }
    }

    /// Take one datagram; Ok(true) once the answer is complete, an error
    /// for a NACK, a dump ended on an error, or a malformed status.
    pub fn take(&mut self, datagram: &[u8]) -> io::Result<bool> {
        for m in messages(datagram) {
            if m.seq != self.seq {
                continue;
            }
            if m.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match m.kind {
                NLMSG_DONE => {
                    done_status(m.body)?;
                    return Ok(true);
                }
                NLMSG_ERROR => {
                    error_status(m.body)?;
                    if !self.dump {
                        return Ok(true);
                    }
                }
                k if k == self.want => {
                    if let Some(item) = (self.parse)(m.body) {
                        self.items.push(item);
                    }
                    if !self.dump {
                        // A single answer (GETLINK by index): no ACK follows.
                        return Ok(true);
                    }
                }
                _ => {}
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use netlink_packet_core::NLM_F_MULTIPART;

    /// One message as the kernel frames it: header, body, padding.
    pub fn frame(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        m.resize(align4(m.len()), 0);
        m
    }

    fn raw(body: &[u8]) -> Option<Vec<u8>> {
        Some(body.to_vec())
    }

    /// Hostile or damaged replies: a truncated NLMSG_ERROR was taken for an
    /// ACK, an error of i32::MIN overflowed on negation (a panic in debug
    /// builds).
    #[test]
    fn malformed_replies_are_errors_not_acks() {
        assert!(error_status(&0i32.to_ne_bytes()).is_ok());
        let e = error_status(&(-libc::EEXIST).to_ne_bytes()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
        for bad in [
            &[][..],
            &[0, 0][..],
            &i32::MIN.to_ne_bytes()[..],
            &5i32.to_ne_bytes()[..],
        ] {
            let e = error_status(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }

        // Framing: a length past the datagram, or shorter than a header,
        // ends it; padding is skipped.
        let mut dgram = frame(20, 2, 9, &[1, 2, 3]);
        dgram.extend(frame(NLMSG_DONE, 2, 9, &[0; 4]));
        let got: Vec<_> = messages(&dgram).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].kind, got[0].seq, got[0].body),
            (20, 9, &[1, 2, 3][..])
        );
        let mut cut = frame(20, 0, 1, &[0; 8]);
        cut[0] = 200;
        assert_eq!(messages(&cut).count(), 0);
        cut[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(messages(&cut).count(), 0);
    }

    /// A dump is its messages up to DONE, only of our sequence number; a
    /// NACK or a DONE that carries an error fails it (before, any DONE ended
    /// a dump as complete, so a dump the kernel cut short read as a shorter
    /// list); NLM_F_DUMP_INTR on any message, DONE included, is flagged.
    #[test]
    fn a_dump_ends_at_done_and_reports_errors_and_interruptions() {
        let mut c = Collect::new(7, 20, true, raw);
        let mut d = frame(20, NLM_F_MULTIPART, 7, &[1]);
        d.extend(frame(20, NLM_F_MULTIPART, 6, &[9])); // an earlier request's
        assert!(!c.take(&d).unwrap());
        assert!(
            c.take(&frame(NLMSG_DONE, NLM_F_MULTIPART, 7, &0i32.to_ne_bytes()))
                .unwrap()
        );
        assert_eq!(c.items, vec![vec![1]]);
        assert!(!c.interrupted);

        let mut c = Collect::new(7, 20, true, raw);
        c.take(&frame(20, NLM_F_MULTIPART, 7, &[1])).unwrap();
        let done = frame(NLMSG_DONE, NLM_F_MULTIPART | NLM_F_DUMP_INTR, 7, &[]);
        assert!(c.take(&done).unwrap(), "an empty DONE is a plain end");
        assert!(c.interrupted);

        let mut c = Collect::new(7, 20, true, raw);
        let e = c
            .take(&frame(NLMSG_DONE, 0, 7, &(-libc::EMSGSIZE).to_ne_bytes()))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
        let e = c.take(&frame(NLMSG_DONE, 0, 7, &[1, 0])).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let e = c
            .take(&frame(NLMSG_ERROR, 0, 7, &(-libc::EPERM).to_ne_bytes()))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));

        // A single answer: the message itself, or the ACK.
        let mut c = Collect::new(3, 16, false, raw);
        assert!(c.take(&frame(16, 0, 3, &[5])).unwrap());
        assert_eq!(c.items, vec![vec![5]]);
        let mut c = Collect::new(3, 0, false, raw);
        assert!(c.take(&frame(NLMSG_ERROR, 0, 3, &[0; 20])).unwrap());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// A datagram of framed messages splits back into the same ones.
        #[test]
        fn framed_messages_round_trip(
            msgs in proptest::collection::vec(
                (proptest::prelude::any::<u16>(), proptest::prelude::any::<u16>(), proptest::prelude::any::<u32>(),
                 proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                0..6,
            )
        ) {
            let dgram: Vec<u8> = msgs.iter().flat_map(|(k, f, s, b)| frame(*k, *f, *s, b)).collect();
            let got: Vec<(u16, u16, u32, Vec<u8>)> = messages(&dgram)
                .map(|m| (m.kind, m.flags, m.seq, m.body.to_vec()))
                .collect();
            // A body's padding is inside the next frame's alignment, so the
            // body comes back exactly.
            proptest::prop_assert_eq!(got, msgs);
        }
    }
}
