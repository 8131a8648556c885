package bench

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestConfig_ValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   interface{ Validate() error }
		field string
	}{
		{"negative duration", LoadConfig{Duration: -time.Second}, "LoadConfig.Duration"},
		{"negative rate", LoadConfig{Rate: -1}, "LoadConfig.Rate"},
		{"negative concurrency", LoadConfig{Concurrency: -1}, "LoadConfig.Concurrency"},
		{"unknown generator", SIPConfig{Generator: "carrier-pigeon"}, "SIPConfig.Generator"},
		{"negative answer delay", SIPConfig{AnswerAfter: -1}, "SIPConfig.AnswerAfter"},
		{"negative hold", SIPConfig{Hold: -1}, "SIPConfig.Hold"},
		{"negative call timeout", SIPConfig{CallTimeout: -1}, "SIPConfig.CallTimeout"},
		{"negative no-response wait", SIPConfig{NoResponse: -1}, "SIPConfig.NoResponse"},
		{"negative banks", SIPConfig{Banks: -1}, "SIPConfig.Banks"},
		{"negative callers", SIPConfig{Callers: -1}, "SIPConfig.Callers"},
		{"target without password", ClusterConfig{Target: []string{"http://n1"}}, "ClusterConfig.AdminPassword"},
		{"sip targets not per node", ClusterConfig{Target: []string{"http://n1"}, TargetSIP: []string{"a:1", "b:1"}, AdminPassword: "pw"}, "ClusterConfig.TargetSIP"},
		{"ten nodes", ClusterConfig{Nodes: 10}, "ClusterConfig.Nodes"},
		{"negative users", DirectoryConfig{Users: -1}, "DirectoryConfig.Users"},
		{"negative groups", DirectoryConfig{Groups: -1}, "DirectoryConfig.Groups"},
		{"negative members", DirectoryConfig{Members: -1}, "DirectoryConfig.Members"},
		{"negative sign-ins", DirectoryConfig{SignIns: -1}, "DirectoryConfig.SignIns"},
		{"negative writers", DirectoryConfig{Writers: -1}, "DirectoryConfig.Writers"},
		{"unknown strategy", DirectoryConfig{Strategy: "random"}, "DirectoryConfig.Strategy"},
		{"floor addr without port", FloorConfig{Addr: "localhost"}, "FloorConfig.Addr"},
		{"negative floor buffer", FloorConfig{Buffer: -1}, "FloorConfig.Buffer"},
		{"common checks load", Common{Load: LoadConfig{Rate: -1}}, "LoadConfig.Rate"},
		{"register expires", RegisterConfig{Expires: -1}, "RegisterConfig.Expires"},
		{"failover kill time", FailoverConfig{Common: Common{Cluster: ClusterConfig{Nodes: 2}, Directory: DirectoryConfig{Groups: 1}}, KillAfter: -1}, "FailoverConfig.KillAfter"},
		{"presence viewers", PresenceConfig{Watchers: 2, Viewers: 3}, "PresenceConfig.Viewers"},
		{"presence targets", PresenceConfig{Targets: -1}, "PresenceConfig.Targets"},
		{"presence drain", PresenceConfig{Drain: -1}, "PresenceConfig.Drain"},
		{"rights engine targets", RightsConfig{EngineTargets: -1}, "RightsConfig.EngineTargets"},
		{"scale writers", ScaleConfig{Writers: -1}, "ScaleConfig.Writers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if want := "bench: " + tc.field + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Validate() = %v, want an error starting %q", err, want)
			}
		})
	}
}

// Validate checks cfg.WithDefaults(), so filling the defaults of a filled
// config must change nothing; and the zero configs are valid where a
// scenario needs nothing more.
func TestConfig_WithDefaultsIsIdempotent(t *testing.T) {
	rolling := RollingConfig{Common: Common{Cluster: ClusterConfig{Nodes: 3, Procs: true}, Directory: DirectoryConfig{Groups: 1}}}
	failover := FailoverConfig{Common: Common{Cluster: ClusterConfig{Nodes: 3}, Directory: DirectoryConfig{Groups: 1}}}
	hunt := HuntConfig{SIP: SIPConfig{Generator: GeneratorSIPp}}
	for _, tc := range []struct {
		name  string
		once  any
		twice any
		err   error
	}{
		{"register", RegisterConfig{}.WithDefaults(), RegisterConfig{}.WithDefaults().WithDefaults(), RegisterConfig{}.Validate()},
		{"hunt sipp", hunt.WithDefaults(), hunt.WithDefaults().WithDefaults(), hunt.Validate()},
		{"failover", failover.WithDefaults(), failover.WithDefaults().WithDefaults(), failover.Validate()},
		{"rolling", rolling.WithDefaults(), rolling.WithDefaults().WithDefaults(), rolling.Validate()},
		{"presence", PresenceConfig{}.WithDefaults(), PresenceConfig{}.WithDefaults().WithDefaults(), PresenceConfig{}.Validate()},
		{"rights", RightsConfig{}.WithDefaults(), RightsConfig{}.WithDefaults().WithDefaults(), RightsConfig{}.Validate()},
		{"scale", ScaleConfig{}.WithDefaults(), ScaleConfig{}.WithDefaults().WithDefaults(), ScaleConfig{}.Validate()},
		{"floor", FloorConfig{}.WithDefaults(), FloorConfig{}.WithDefaults().WithDefaults(), FloorConfig{}.Validate()},
	} {
		if tc.err != nil {
			t.Errorf("%s: Validate() = %v", tc.name, tc.err)
		}
		if !reflect.DeepEqual(tc.once, tc.twice) {
			t.Errorf("%s: WithDefaults twice = %+v, once = %+v", tc.name, tc.twice, tc.once)
		}
	}
}

// The scenarios' defaults are what they were before WithDefaults.
func TestConfig_ScenarioDefaults(t *testing.T) {
	if c := (HuntConfig{SIP: SIPConfig{Generator: GeneratorSIPp}}).WithDefaults(); c.SIP.AnswerAfter != sippAnswerAfter || c.Directory.Groups != 1 {
		t.Errorf("sipp hunt: AnswerAfter %v, Groups %d; want %v, 1", c.SIP.AnswerAfter, c.Directory.Groups, sippAnswerAfter)
	}
	if c := (HuntConfig{}).WithDefaults(); c.SIP.AnswerAfter != 10*time.Millisecond || c.Directory.Groups != 0 {
		t.Errorf("go hunt: AnswerAfter %v, Groups %d; want 10ms, 0", c.SIP.AnswerAfter, c.Directory.Groups)
	}
	if c := (ScaleConfig{}).WithDefaults(); c.Directory.Users != 100_000 || c.Directory.Groups != 10_000 || c.Cluster.Nodes != 1 {
		t.Errorf("scale: %+v", c.Directory)
	}
	if c := (FailoverConfig{}).WithDefaults(); c.KillAfter != 10*time.Second/3 || c.Load.Rate != 50 || c.Load.Concurrency != 500 {
		t.Errorf("failover: KillAfter %v, Rate %g, Concurrency %d", c.KillAfter, c.Load.Rate, c.Load.Concurrency)
	}
	if c := (PresenceConfig{}).WithDefaults(); c.Viewers != 100 || c.Directory.Users != 101 || c.Directory.SignIns != 101 || c.Load.Rate != 10 {
		t.Errorf("presence: Viewers %d, Users %d, SignIns %d, Rate %g", c.Viewers, c.Directory.Users, c.Directory.SignIns, c.Load.Rate)
	}
}
