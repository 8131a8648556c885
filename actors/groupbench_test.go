//go:build !race

package actors

import (
	"fmt"
	"testing"
	"time"

	"github.com/ucgrid/ucgrid/actors/actorspb"
	"github.com/ucgrid/ucgrid/persistence/dirpb"
)

// BenchmarkGroupGrain_RingPlan is one ring plan of a ring_all group of
// three members, each with a registered primary line, on one node: what
// the SIP layer asks for every call to a group (issue 16).
func BenchmarkGroupGrain_RingPlan(b *testing.B) {
	n := startTestNode(b, "solo")
	n.apply(b, putGlobal("public"))
	var members []*dirpb.Member
	for i := range 3 {
		u, line := fmt.Sprint("m", i), fmt.Sprint(200+i)
		n.apply(b, putUser(u, false), putLine(line, u, "primary", nil))
		resp, err := n.cn.Request(reqCtx(b), line, KindLine, &actorspb.RegisterLine{Put: []*actorspb.Binding{
			{Contact: "sip:" + line + "@192.0.2.1:5060", ExpiresAtUnix: time.Now().Add(time.Hour).Unix()}}})
		if err != nil || resp.(*actorspb.RegisterLineReply).GetError() != nil {
			b.Fatalf("register %s: %v %v", line, resp, err)
		}
		members = append(members, &dirpb.Member{User: u})
	}
	n.apply(b, &dirpb.Command{Op: &dirpb.Command_PutGroup{PutGroup: &dirpb.PutGroup{Group: &dirpb.Group{Id: "desk", Active: true,
		Members: members, CallGroup: &dirpb.CallGroup{Mode: "sip", Number: "600", Strategy: "ring_all"}}}}})
	ctx := reqCtx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, err := n.cn.Request(ctx, "desk", KindGroup, &actorspb.GetRingPlan{})
		if r, ok := resp.(*actorspb.GetRingPlanReply); err != nil || !ok || len(r.GetTargets()) != 3 {
			b.Fatalf("plan: %v %v", resp, err)
		}
	}
}
