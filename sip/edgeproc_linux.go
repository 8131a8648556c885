//go:build linux

package sip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/emiago/sipgo/sip"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The edge process (Config.EdgeProcess). In one Go process the edge's
// drain is one goroutine among the thousands a node under load runs, and
// Go has no goroutine priority: a datagram that wakes it waits for the
// scheduler's global queue (tens to hundreds of milliseconds past
// capacity), and so does the 503 for a call refused. Here the drain runs
// in a process of its own, the same binary started again: the kernel
// schedules it as soon as a datagram arrives, and its one loop and tiny
// heap never wait for the node's. It reads the node's UDP socket (a
// duplicate of its descriptor), refuses new work there when the node's
// admission state says so, and passes everything else to the node over a
// SOCK_SEQPACKET socket pair, ahead of new work as edgeConn does within
// one process. The node still sends everything it sends on its own
// descriptor. Both map one page of memory holding edgeState: the node
// writes its limits, counts and queue age there, the edge process its
// refusals (foldEdge counts them in the node's metrics) and what it
// passed, so that it sees how long the node's reader lags.
//
// The edge process exits when the node closes its end of the pair, dies
// with it (Pdeathsig), and holds no state of its own: if it fails, the
// node logs it and reads its socket itself again (edgeConn).

// edgeChildEnv, set to 1, makes the binary the edge process (init
// below): any binary that links this package, test binaries included,
// can be one.
const edgeChildEnv = "UCGRID_SIP_EDGE_CHILD"

// edgeProcessName is the edge process's name in ps, top and pidof (its
// argv[0] and the kernel's comm, at most 15 bytes): without it both read
// "/proc/self/exe" and "exe", which tells an operator nothing.
const edgeProcessName = "ucgrid-sip-edge"

// edgeRetryEnv passes Config.OverloadRetryAfter (nanoseconds).
const edgeRetryEnv = "UCGRID_SIP_EDGE_RETRY_AFTER"

// The edge process's descriptors (exec.Cmd.ExtraFiles start at 3).
const (
	edgeFdUDP = 3 + iota
	edgeFdLink
	edgeFdState
)

// edgeLinkBuffer is the socket pair's send buffer: a few milliseconds of
// datagrams at a node's capacity. Past it the edge process holds them in
// its own queues, where new work can still be refused and in-dialog
// messages go first.
const edgeLinkBuffer = 128 << 10

// edgeRing is how many datagrams passed to the node the edge process
// remembers (their arrival): more than the socket pair holds.
const edgeRing = 4096

func init() {
	if os.Getenv(edgeChildEnv) == "1" {
		// init runs on the main thread, whose name is the process's.
		if name, err := unix.BytePtrFromString(edgeProcessName); err == nil { // a constant without NUL
			_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(name)), 0, 0, 0) // a name is cosmetic
		}
		// Not on this goroutine: the runtime locks it to the main thread
		// during init, and every switch between a locked goroutine and
		// the drain hands a thread over (a fifth of a core at 10 000
		// datagrams/s, measured).
		code := make(chan int)
		go func() { code <- runEdgeProcess() }()
		os.Exit(<-code)
	}
}

// edgeMemory is the shared page: its descriptor (for the edge process,
// closed once it started) and the edgeState in it.
type edgeMemory struct {
	file *os.File
	st   *edgeState
}

var edgeStateSize = (int(unsafe.Sizeof(edgeState{})) + os.Getpagesize() - 1) &^ (os.Getpagesize() - 1)

// newEdgeMemory makes the shared page (memfd). It stays mapped for the
// life of the process: the admission reads it until the last request
// guard returns, and a page is all it costs.
func newEdgeMemory() (*edgeMemory, error) {
	fd, err := unix.MemfdCreate("ucgrid-sip-edge", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sip: edge process: shared memory: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ucgrid-sip-edge-state")
	if err := unix.Ftruncate(fd, int64(edgeStateSize)); err != nil {
		_ = f.Close() // the Ftruncate error is the one to report
		return nil, fmt.Errorf("sip: edge process: shared memory: %w", err)
	}
	st, err := mapEdgeState(fd)
	if err != nil {
		_ = f.Close() // as above
		return nil, err
	}
	return &edgeMemory{file: f, st: st}, nil
}

func mapEdgeState(fd int) (*edgeState, error) {
	mem, err := unix.Mmap(fd, 0, edgeStateSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("sip: edge process: map shared memory: %w", err)
	}
	return (*edgeState)(unsafe.Pointer(&mem[0])), nil
}

// procEdge is the node's side of an edge process: the UDP socket as
// sipgo reads it (from the socket pair) and writes it (directly).
type procEdge struct {
	*net.UDPConn
	// e holds the admission state and the log; its drain runs only
	// after the edge process failed (then ReadFrom is e's).
	e      *edgeConn
	link   *net.UnixConn
	proc   *os.Process
	exited chan struct{}
	waited error
	buf    []byte
	rest   []byte // what is left of the last message read from link
	closed atomic.Bool
	inline bool // only sipgo's one reader goroutine reads and writes it
}

// startEdgeProcess starts the edge process for udp, whose admission
// state is in mem.
func startEdgeProcess(udp *net.UDPConn, mem *edgeMemory, a *admission, log *slog.Logger, logged *onceEvery) (*procEdge, error) {
	// The page stays mapped; its descriptor is only for the edge process.
	defer mem.file.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sip: edge process: socket pair: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "ucgrid-sip-edge-link")
	defer child.Close() // the edge process has its own copy once started
	// A refusal leaves the default buffer, which works too.
	_ = unix.SetsockoptInt(fds[1], unix.SOL_SOCKET, unix.SO_SNDBUF, edgeLinkBuffer)
	ours := os.NewFile(uintptr(fds[0]), "ucgrid-sip-edge-link")
	fc, err := net.FileConn(ours)
	_ = ours.Close() // FileConn holds a duplicate
	if err != nil {
		return nil, fmt.Errorf("sip: edge process: socket pair: %w", err)
	}
	link := fc.(*net.UnixConn)
	udpFile, err := udp.File()
	if err != nil {
		_ = link.Close() // the File error is the one to report
		return nil, fmt.Errorf("sip: edge process: %w", err)
	}
	defer udpFile.Close() // as child
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{edgeProcessName}
	cmd.Env = append(os.Environ(), edgeChildEnv+"=1", edgeRetryEnv+"="+strconv.FormatInt(int64(a.retryAfter), 10))
	cmd.ExtraFiles = []*os.File{udpFile, child, mem.file}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	// Passing udpFile (os.File.Fd) made the socket blocking, for the node
	// too (one open file): were the edge process to fail, the node's own
	// reads would no longer wake for Close.
	if raw, rerr := udp.SyscallConn(); rerr == nil {
		_ = raw.Control(func(fd uintptr) { _ = unix.SetNonblock(int(fd), true) }) // cannot fail on an open socket
	}
	if err != nil {
		_ = link.Close() // the Start error is the one to report
		return nil, fmt.Errorf("sip: edge process: start: %w", err)
	}
	p := &procEdge{UDPConn: udp, e: makeEdgeConn(udp, a, log, logged), link: link, proc: cmd.Process,
		exited: make(chan struct{}), buf: make([]byte, edgeMessageMax+edgeHeaderMax+4+1<<16)}
	go func() {
		p.waited = cmd.Wait()
		close(p.exited)
	}()
	a.m.edgeProcess.Set(1)
	a.processEdge.Store(true)
	return p, nil
}

// ReadFrom gives sipgo the next datagram the edge process passed.
func (p *procEdge) ReadFrom(b []byte) (int, net.Addr, error) {
	for !p.inline {
		if len(p.rest) == 0 {
			n, err := p.link.Read(p.buf)
			if err != nil {
				if p.closed.Load() {
					return 0, nil, net.ErrClosed
				}
				p.fallBack(err)
				break
			}
			p.rest = p.buf[:n]
		}
		pk, rest, ok := nextEdgeRecord(p.rest)
		if !ok {
			p.rest = nil // not from our edge process's encoder: cannot happen
			continue
		}
		p.rest = rest
		// New work is not judged again here: the edge process judged it
		// by the reader's lag, and a refusal now would come as late as
		// the node's reader (an admission is the better answer then).
		now := time.Now()
		p.e.a.noteQueueAge(now.Sub(pk.arrived), now)
		p.e.a.taken.Add(1)
		return copy(b, pk.data), pk.addr, nil
	}
	return p.e.ReadFrom(b)
}

// fallBack makes the node read its socket itself after the edge process
// failed (its socket pair read err).
func (p *procEdge) fallBack(err error) {
	_ = p.proc.Kill() // it may be alive but stuck; gone already is fine
	var exit any = "not reaped within 1s"
	select {
	case <-p.exited:
		exit = p.waited
	case <-time.After(time.Second):
	}
	p.e.log.Error("sip: the UDP edge process stopped: the node reads its SIP UDP socket itself from now on (503s for overload then wait for the node's scheduler)",
		"read", err, "exit", exit)
	p.inline = true
	p.e.a.m.edgeProcess.Set(0)
	p.e.a.processEdge.Store(false)
	p.e.start()
}

// Close stops the edge process and closes the socket.
func (p *procEdge) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	_ = p.proc.Kill() // gone already is fine
	<-p.exited
	_ = p.link.Close() // unblocks ReadFrom
	return p.UDPConn.Close()
}

// runEdgeProcess is the edge process: it drains the node's UDP socket
// until the node closes the socket pair or goes. Its exit status is
// what it returns.
func runEdgeProcess() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("process", "sip-edge")
	fail := func(what string, err error) int {
		log.Error("sip: edge process: "+what, "err", err)
		return 1
	}
	pc, err := net.FilePacketConn(os.NewFile(edgeFdUDP, "udp"))
	if err != nil {
		return fail("UDP socket", err)
	}
	udp, ok := pc.(*net.UDPConn)
	if !ok {
		return fail("UDP socket", errors.New("not a UDP socket"))
	}
	st, err := mapEdgeState(edgeFdState)
	if err != nil {
		return fail("shared memory", err)
	}
	ra, _ := strconv.ParseInt(os.Getenv(edgeRetryEnv), 10, 64) // set by startEdgeProcess
	a := &admission{edgeState: st, retryAfter: max(time.Second, time.Duration(ra))}
	if err := unix.SetNonblock(edgeFdLink, true); err != nil {
		return fail("socket pair", err)
	}
	l := &edgeLoop{e: makeEdgeConn(udp, a, log, newOnceEvery(time.Minute)), link: edgeFdLink}
	if err := l.run(); err != nil {
		return fail("UDP", err)
	}
	return 0
}

// edgeLoop is the edge process's one goroutine: it waits for the socket
// or the pair with poll(2) and reads, sends and passes without waiting,
// outside Go's network poller (the socket is in it, but no goroutine
// ever waits on it there). A datagram then wakes this thread alone, and
// only while it polls: after a round that read anything it sleeps
// edgeCoalesce first, so that under load one wake-up serves many
// datagrams (waking the process for each cost it ~15 µs a datagram).
type edgeLoop struct {
	e    *edgeConn
	link int // the pair's descriptor, non-blocking
	udp  int // the socket's descriptor (e's), non-blocking
	// prio and fresh hold the records not passed yet, fresh nFresh of
	// them; msg is the message being passed.
	prio, fresh records
	msg         []byte
	nFresh      int
	msgs        []ipv4.Message
	stamped     bool
	// arrived[i%edgeRing] is when the i-th datagram passed arrived (unix
	// ns); the node counts in taken those its reader took. Only the
	// loop's goroutine uses them.
	arrived [edgeRing]int64
	passed  int64
}

// edgeCoalesce is how long the edge process sleeps after a round that
// read something: what arrives meanwhile is read in one batch.
const edgeCoalesce = 2 * time.Millisecond

// edgeNice is the edge process thread's nice value: weight about nine
// times the node's (nice 0), so it runs as soon as a datagram arrives.
const edgeNice = -10

// edgePendingMax bounds the records held for a node that does not read:
// past it the edge process stops reading (the kernel's queue holds the
// rest), as a full prio queue does in edgeConn.
const edgePendingMax = 8 << 20

// run loops until the node goes (nil) or the socket fails.
func (l *edgeLoop) run() error {
	c := l.e
	raw, err := c.UDPConn.SyscallConn()
	if err != nil {
		return err
	}
	if err := raw.Control(func(fd uintptr) { l.udp = int(fd) }); err != nil {
		return err
	}
	l.stamped = enableRxStamps(c.UDPConn)
	c.pc = ipv4.NewPacketConn(c.UDPConn)
	c.sendFlags = unix.MSG_DONTWAIT
	c.lag = l.lag
	l.msgs = newBatch()
	runtime.LockOSThread() // its one goroutine stays on one thread
	if err := raisePriority(); err != nil {
		c.log.Warn("sip: edge process: cannot raise its priority (give ucgrid CAP_SYS_NICE, or LimitNICE=-10 in its systemd unit): under overload its 503s then wait for the node's CPU time",
			"nice", edgeNice, "err", err)
	}
	pfd := make([]unix.PollFd, 2)
	for {
		pfd = pfd[:1]
		pfd[0] = unix.PollFd{Fd: int32(l.link), Events: unix.POLLIN}
		if l.prio.len()+l.fresh.len() > 0 {
			pfd[0].Events |= unix.POLLOUT
		}
		if l.prio.len() < edgePendingMax {
			pfd = append(pfd, unix.PollFd{Fd: int32(l.udp), Events: unix.POLLIN})
		}
		if err := rawPoll(pfd); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		if pfd[0].Revents&^unix.POLLOUT != 0 {
			return nil // the node never writes: it closed the pair, or went
		}
		read, err := l.read()
		if err != nil {
			return err
		}
		c.sendRefusals()
		l.pass()

		if read {
			rawSleep(edgeCoalesce)
		}
	}
}

// raisePriority puts every thread of the process at edgeNice, ahead of
// the node on a busy CPU: at the node's priority the loop's thread
// waited for a CPU up to 90 ms at a time while the node ran (10x its
// capacity on one core), and so did the 503s. All threads, not the
// loop's alone: the runtime's (sysmon, a garbage collection's worker)
// sometimes hold the one P the loop needs. Threads made later inherit
// the value from the thread that makes them.
func raisePriority() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, edgeNice); err != nil && !errors.Is(err, unix.ESRCH) {
			return err
		}
	}
	return nil
}

// rawPoll waits (ppoll) until one of fds is ready, and rawSleep sleeps,
// both without telling the Go runtime: it would hand this goroutine's P
// to another thread while it waits and make it wait for one after (a
// wake-up of a second thread each time, measured: 15 000 a second under
// load). The runtime's preemption signal interrupts the wait (EINTR),
// so a garbage collection does not wait for it either.
func rawPoll(fds []unix.PollFd) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), 0, 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func rawSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0) // an interrupted sleep is a shorter one
}

// read reads what the socket holds (up to a few batches), routing each
// datagram: refused, or held for the node. It reports whether it read
// anything.
func (l *edgeLoop) read() (bool, error) {
	c := l.e
	read := false
	for round := 0; round < 4 && l.prio.len() < edgePendingMax; round++ {
		n, err := c.pc.ReadBatch(l.msgs, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) {
			return read, nil
		}
		if err != nil {
			return read, err
		}
		read = true
		now := time.Now()
		for i := range l.msgs[:n] {
			l.route(batchPacket(&l.msgs[i], now, l.stamped), now)
		}
		if n < len(l.msgs) {
			break
		}
	}
	return read, nil
}

// route holds p for the node (prio first, then fresh: edgeConn.queue's
// order) unless it is refused or dropped.
func (l *edgeLoop) route(p edgePacket, now time.Time) {
	route, age := l.e.classify(&p, now)
	switch route {
	case routeDrop:
	case routeCancel, routeFresh:
		if l.nFresh < edgeFreshQueue {
			l.fresh.add(p)
			l.nFresh++
		} else if route == routeFresh {
			l.e.refuse(p, reasonQueueAge, age, now, true)
		} else {
			l.prio.add(p)
		}
	default:
		l.prio.add(p)
	}
}

// pass sends the node what is held, prio first, in messages of up to
// edgeMessageMax, until the pair is full.
func (l *edgeLoop) pass() {
	for l.prio.len()+l.fresh.len() > 0 {
		l.msg = l.msg[:0]
		kp, _ := l.takeRecords(l.prio.held())
		kf, nf := l.takeRecords(l.fresh.held())
		if _, err := unix.Write(l.link, l.msg); err != nil {
			return // full (EAGAIN: poll says when it has room) or the node went (poll says so)
		}
		for b := l.msg; len(b) >= 4+8; {
			l.arrived[l.passed%edgeRing] = int64(binary.NativeEndian.Uint64(b[4:]))
			l.passed++
			b = b[4+binary.NativeEndian.Uint32(b):]
		}
		l.prio.drop(kp)
		l.fresh.drop(kf)
		l.nFresh -= nf
	}
}

// records is a queue of records (appendEdgeRecord): appended at the
// end, taken from the front without moving the rest (a node that reads
// nothing for a while leaves megabytes held).
type records struct {
	b    []byte
	head int
}

func (r *records) len() int         { return len(r.b) - r.head }
func (r *records) held() []byte     { return r.b[r.head:] }
func (r *records) add(p edgePacket) { r.b = appendEdgeRecord(r.b, p) }

// drop removes n bytes from the front.
func (r *records) drop(n int) {
	r.head += n
	if r.head == len(r.b) {
		r.b, r.head = r.b[:0], 0
	} else if r.head > len(r.b)/2 {
		r.b = append(r.b[:0], r.b[r.head:]...)
		r.head = 0
	}
}

// takeRecords adds whole records from the front of held to l.msg while
// it stays within edgeMessageMax (the first always goes) and reports the
// bytes and records taken.
func (l *edgeLoop) takeRecords(held []byte) (bytes, records int) {
	for bytes+4 <= len(held) {
		n := 4 + int(binary.NativeEndian.Uint32(held[bytes:]))
		if len(l.msg) > 0 && len(l.msg)+n > edgeMessageMax || records == edgeBatch {
			break
		}
		l.msg = append(l.msg, held[bytes:bytes+n]...)
		bytes += n
		records++
	}
	return bytes, records
}

// lag is how long the oldest datagram the node's reader has not taken
// yet has waited.
func (l *edgeLoop) lag(now time.Time) time.Duration {
	t := l.e.a.taken.Load()
	if l.passed <= t {
		return 0
	}
	return max(0, time.Duration(now.UnixNano()-l.arrived[t%edgeRing]))
}

// edgeMessageMax is the size past which the edge process adds no more
// datagrams to a message for the node (one more may take it past).
const edgeMessageMax = 32 << 10

// appendEdgeRecord appends p to a message for the node: its encoded
// length (4 bytes) and appendEdgePacket's encoding.
func appendEdgeRecord(b []byte, p edgePacket) []byte {
	at := len(b)
	b = appendEdgePacket(append(b, 0, 0, 0, 0), p)
	binary.NativeEndian.PutUint32(b[at:], uint32(len(b)-at-4))
	return b
}

// nextEdgeRecord splits the first record off a message: the packet and
// the rest.
func nextEdgeRecord(b []byte) (edgePacket, []byte, bool) {
	if len(b) < 4 {
		return edgePacket{}, nil, false
	}
	n := int(binary.NativeEndian.Uint32(b))
	if n > len(b)-4 {
		return edgePacket{}, nil, false
	}
	p, ok := decodeEdgePacket(b[4 : 4+n])
	return p, b[4+n:], ok
}

// edgeHeaderMax bounds the header appendEdgePacket puts before a
// datagram: arrival (8), lengths of method, address and zone (3), port
// (2), an IPv6 address (16), a zone and a method (up to 255 each).
const edgeHeaderMax = 8 + 3 + 2 + 16 + 2*255

// appendEdgePacket appends p as the edge process passes it to the node.
func appendEdgePacket(b []byte, p edgePacket) []byte {
	var ip netip.Addr
	var port uint16
	var zone string
	if p.addr != nil {
		ap := p.addr.AddrPort()
		ip, port, zone = ap.Addr().Unmap(), ap.Port(), p.addr.Zone
	}
	raw := ip.AsSlice()
	method := p.method[:min(len(p.method), 255)]
	zone = zone[:min(len(zone), 255)]
	b = binary.NativeEndian.AppendUint64(b, uint64(p.arrived.UnixNano()))
	b = append(b, byte(len(method)), byte(len(raw)), byte(len(zone)))
	b = binary.BigEndian.AppendUint16(b, port)
	b = append(b, raw...)
	b = append(b, zone...)
	b = append(b, method...)
	return append(b, p.data...)
}

// decodeEdgePacket is appendEdgePacket's inverse; its data is within b.
func decodeEdgePacket(b []byte) (edgePacket, bool) {
	if len(b) < 13 {
		return edgePacket{}, false
	}
	p := edgePacket{arrived: time.Unix(0, int64(binary.NativeEndian.Uint64(b)))}
	ml, al, zl := int(b[8]), int(b[9]), int(b[10])
	port := binary.BigEndian.Uint16(b[11:13])
	b = b[13:]
	if len(b) < al+zl+ml {
		return edgePacket{}, false
	}
	if al > 0 {
		ip, ok := netip.AddrFromSlice(b[:al])
		if !ok {
			return edgePacket{}, false
		}
		p.addr = &net.UDPAddr{IP: ip.AsSlice(), Port: int(port), Zone: string(b[al : al+zl])}
	}
	b = b[al+zl:]
	p.method = sip.RequestMethod(b[:ml])
	p.data = b[ml:]
	return p, true
}
