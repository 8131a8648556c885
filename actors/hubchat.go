package actors

import "github.com/ucgrid/ucgrid/persistence/dirpb"

// DeliverChat hands a chat message to every session of this hub whose
// viewer is its sender or its recipient (the sender's other devices show
// it too). Each node delivers the messages its directory applies to its
// own sessions, so no grain or remote message is involved; like every
// hub event, a session whose buffer is full is closed as lagged. The
// stored history (GET /v1/chat/{user}) is authoritative.
func (h *Hub) DeliverChat(m *dirpb.ChatMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.sessions {
		switch e.s.Viewer {
		case m.GetTo():
			h.deliver(e, Event{Target: m.GetFrom(), Chat: m})
		case m.GetFrom():
			h.deliver(e, Event{Target: m.GetTo(), Chat: m})
		}
	}
}
