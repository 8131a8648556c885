package actors

import (
	"context"

	"github.com/ucgrid/ucgrid/persistence"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

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

// chatFeedBuffer is how many directory changes may wait for the chat
// delivery; beyond it the feed resets and the messages in between are
// not pushed live (clients read them from the history).
const chatFeedBuffer = 1024

// FollowChats delivers every chat message dir applies to this hub's
// sessions (DeliverChat) until the returned function is called; it stops
// the delivery and waits for it.
func (h *Hub) FollowChats(dir *persistence.Node) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	changes, unsubscribe := dir.Subscribe(chatFeedBuffer)
	store := dir.Store()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unsubscribe()
		persistence.Follow(ctx, changes, func(c persistence.Change) {
			if c.Kind != persistence.KindChat || c.Deleted || c.ID == "" {
				return
			}
			if m, err := store.ChatMessage(c.ID); err == nil {
				h.DeliverChat(m)
			} // else purged already: nothing to deliver
		})
	}()
	return func() {
		cancel()
		<-done
	}
}
