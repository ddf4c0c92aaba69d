//! The one ZeroMQ socket option the `zmq` crate does not wrap: `ZMQ_XPUB_NODROP`, which makes
//! a PUB socket at its high-water mark refuse a message (`EAGAIN`) instead of dropping it
//! silently (see `zmq_pub_sink`).

#![allow(unsafe_code)]

/// Sets `ZMQ_XPUB_NODROP` on `socket` (a PUB or XPUB socket).
pub(crate) fn set_xpub_nodrop(socket: &mut zmq::Socket) -> zmq::Result<()> {
    let on: std::ffi::c_int = 1;
    // SAFETY: `socket.as_mut_ptr()` is the live libzmq socket `socket` owns (borrowed
    // exclusively for the call), and `zmq_setsockopt` reads exactly `size_of::<c_int>()` bytes
    // of `on`, which lives for the call.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_XPUB_NODROP as std::ffi::c_int,
            (&raw const on).cast(),
            std::mem::size_of::<std::ffi::c_int>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: `zmq_errno` only reads the calling thread's errno.
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    }
}
