package rights

import "math/bits"

// Service is a feature a user may be allowed to use (spec/services.tsv).
type Service uint8

// NumServices is the number of services.
const NumServices = 10

// The services, in the order of the spec table.
const (
	ConfigureProfile Service = iota
	Chat
	SoftphoneAudio
	SoftphoneVideo
	ScreenShareAccept
	ScreenShareInitiate
	SMS
	RecordCalls
	PhoneBooks
	Apps
)

var serviceNames = [NumServices]string{
	ConfigureProfile:    "configure_profile",
	Chat:                "chat",
	SoftphoneAudio:      "softphone_audio",
	SoftphoneVideo:      "softphone_video",
	ScreenShareAccept:   "screen_share_accept",
	ScreenShareInitiate: "screen_share_initiate",
	SMS:                 "sms",
	RecordCalls:         "record_calls",
	PhoneBooks:          "phone_books",
	Apps:                "apps",
}

// Name returns the service's name as in the spec table and the JSON API.
func (sv Service) Name() string { return serviceNames[sv] }

func (sv Service) String() string { return sv.Name() }

// ParseService returns the service with the given name.
func ParseService(name string) (Service, error) {
	for i, n := range serviceNames {
		if n == name {
			return Service(i), nil
		}
	}
	return 0, &UnknownNameError{Kind: "service", Name: name}
}

// ServiceSet is a set of services.
type ServiceSet uint16

// Has reports whether sv is in the set.
func (ss ServiceSet) Has(sv Service) bool { return ss&(1<<sv) != 0 }

// With returns the set with sv added.
func (ss ServiceSet) With(sv Service) ServiceSet { return ss | 1<<sv }

// Len is the number of services in the set.
func (ss ServiceSet) Len() int { return bits.OnesCount16(uint16(ss)) }

// Names lists the set's service names in catalogue order.
func (ss ServiceSet) Names() []string {
	out := make([]string, 0, ss.Len())
	for sv := Service(0); sv < NumServices; sv++ {
		if ss.Has(sv) {
			out = append(out, sv.Name())
		}
	}
	return out
}

// ParseServices parses a list of service names, naming the first unknown one.
func ParseServices(names []string) (ServiceSet, error) {
	var ss ServiceSet
	for _, n := range names {
		sv, err := ParseService(n)
		if err != nil {
			return 0, err
		}
		ss = ss.With(sv)
	}
	return ss, nil
}
