package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// samples draws n durations from one of several shapes a benchmark sees:
// a narrow band, a long tail over many powers of two, small values below
// the linear range, and one value repeated.
func samples(rng *rand.Rand, shape, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		switch shape {
		case 0: // 1–3 ms
			out[i] = time.Millisecond + time.Duration(rng.Int64N(int64(2*time.Millisecond)))
		case 1: // log-uniform from 1 ns to ~1 h
			out[i] = time.Duration(math.Exp(rng.Float64() * math.Log(float64(time.Hour))))
		case 2: // below and around the 128 linear buckets
			out[i] = time.Duration(rng.Int64N(300))
		default:
			out[i] = 42 * time.Microsecond
		}
	}
	return out
}

// exactQuantile is the q-quantile of sorted by the histogram's rank rule:
// the value at rank round(q·n), clamped to [1, n].
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	rank := min(max(int(q*float64(n)+0.5), 1), n)
	return sorted[rank-1]
}

// Every quantile the histogram reports lies between the exact value of a
// sorted slice and that value plus the bucket's width (< 1/128 of it),
// and never above the largest value recorded; count and max are exact.
func TestHistogram_QuantilesAgreeWithASortedSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	qs := []float64{0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1}
	for trial := range 200 {
		shape, n := trial%4, 1+rng.IntN(5000)
		vals := samples(rng, shape, n)
		var h Histogram
		for _, v := range vals {
			h.Record(v)
		}
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		if h.Count() != uint64(n) || h.Max() != sorted[n-1] {
			t.Fatalf("trial %d: count %d max %v, want %d and %v", trial, h.Count(), h.Max(), n, sorted[n-1])
		}
		for _, q := range qs {
			got, want := h.Quantile(q), exactQuantile(sorted, q)
			if got < want || got > sorted[n-1] || float64(got-want) > float64(want)/128 {
				t.Fatalf("trial %d (shape %d, %d values): quantile %v = %v, exact %v (max %v)",
					trial, shape, n, q, got, want, sorted[n-1])
			}
		}
		var sum float64
		for _, v := range vals {
			sum += float64(v)
		}
		if mean := sum / float64(n); math.Abs(float64(h.Mean())-mean) > 1 {
			t.Fatalf("trial %d: mean %v, want %v", trial, h.Mean(), time.Duration(mean))
		}
	}
}

// A value falls in the bucket whose bounds hold it, and the buckets tile
// the values without gaps or overlaps.
func TestHistogram_BucketBoundsHoldTheirValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := int64(math.Exp(rng.Float64() * math.Log(math.MaxInt64/2)))
		i := bucketOf(v)
		if lowerBound(i) > v || upperBound(i) < v {
			t.Fatalf("value %d in bucket %d [%d, %d]", v, i, lowerBound(i), upperBound(i))
		}
	}
	for i := range numBuckets - subCount - 1 {
		if upperBound(i)+1 != lowerBound(i+1) || bucketOf(lowerBound(i)) != i || bucketOf(upperBound(i)) != i {
			t.Fatalf("bucket %d [%d, %d] does not meet bucket %d at %d", i, lowerBound(i), upperBound(i), i+1, lowerBound(i+1))
		}
	}
	if bucketOf(-5) != 0 {
		t.Errorf("a negative duration lands in bucket %d, want 0", bucketOf(-5))
	}
}

// Merging two histograms gives what recording both sets into one gives,
// and the distribution's bars count every value once.
func TestHistogram_MergeAndDistributionKeepEveryValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, b := samples(rng, 1, 3000), samples(rng, 0, 2000)
	var ha, hb, both Histogram
	for _, v := range a {
		ha.Record(v)
		both.Record(v)
	}
	for _, v := range b {
		hb.Record(v)
		both.Record(v)
	}
	ha.Merge(&hb)
	if ha.counts != both.counts || ha.Count() != both.Count() || ha.Max() != both.Max() {
		t.Fatalf("merged: count %d max %v; recorded together: count %d max %v", ha.Count(), ha.Max(), both.Count(), both.Max())
	}
	for _, n := range []int{1, 7, 40} {
		var total uint64
		bars := both.Distribution(n)
		for j, bar := range bars {
			total += bar.Count
			if bar.HighMs <= bar.LowMs || j > 0 && math.Abs(bar.LowMs-bars[j-1].HighMs) > 1e-9*bar.LowMs {
				t.Fatalf("%d bars: bar %d [%v, %v) does not follow [%v, %v)", n, j, bar.LowMs, bar.HighMs, bars[j-1].LowMs, bars[j-1].HighMs)
			}
		}
		if len(bars) != n || total != both.Count() {
			t.Fatalf("%d bars: got %d bars counting %d values, want %d", n, len(bars), total, both.Count())
		}
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Mean() != 0 || empty.Distribution(10) != nil {
		t.Errorf("an empty histogram reports %v, %v, %v", empty.Quantile(0.99), empty.Mean(), empty.Distribution(10))
	}
}
