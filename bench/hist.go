package bench

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two, so a recorded value is off by less than 1/128 (0.8 %).
const subBits = 7

const (
	subCount   = 1 << subBits
	numBuckets = subCount + (64-subBits)*subCount
)

// Histogram is a log-linear histogram of durations (nanoseconds) with
// 0.8 % precision from 1 ns to centuries, HdrHistogram's layout in
// 59 KiB. Not safe for concurrent use: Recorder guards it.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64
	max    int64
}

func bucketOf(v int64) int {
	if v < subCount {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits
	return subCount + shift*subCount + int(v>>shift) - subCount
}

// lowerBound is the smallest value that falls into bucket i.
func lowerBound(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := (i - subCount) / subCount
	mant := int64(i-subCount-shift*subCount) + subCount
	return mant << shift
}

// upperBound is the largest value that falls into bucket i.
func upperBound(i int) int64 { return lowerBound(i+1) - 1 }

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	h.max = max(h.max, v)
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded, exact.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the average value.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile is the value below which the fraction q of the values lie
// (the upper bound of its bucket, never above Max).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(upperBound(i), h.max))
		}
	}
	return time.Duration(h.max)
}

// Bucket is one bar of a histogram's distribution.
type Bucket struct {
	// LowMs and HighMs bound the bar, in milliseconds.
	LowMs  float64 `json:"low_ms"`
	HighMs float64 `json:"high_ms"`
	Count  uint64  `json:"count"`
}

// Distribution folds the histogram into at most n bars of equal width on
// a logarithmic scale between the smallest and the largest value.
func (h *Histogram) Distribution(n int) []Bucket {
	first, last := -1, -1
	for i, c := range h.counts {
		if c > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 || n < 1 {
		return nil
	}
	lo, hi := float64(max(lowerBound(first), 1)), float64(upperBound(last)+1)
	out := make([]Bucket, n)
	ratio := math.Pow(hi/lo, 1/float64(n))
	edge := lo
	for j := range out {
		out[j].LowMs, out[j].HighMs = edge/1e6, edge*ratio/1e6
		edge *= ratio
	}
	for i := first; i <= last; i++ {
		if h.counts[i] == 0 {
			continue
		}
		v := float64(max(lowerBound(i), 1))
		j := int(math.Log(v/lo) / math.Log(ratio))
		out[min(max(j, 0), n-1)].Count += h.counts[i]
	}
	return out
}
