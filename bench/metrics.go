package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Scrape returns the Prometheus text of node n's /metrics.
func (n *Node) Scrape(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/metrics", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench: scrape %s: %w", n.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: scrape %s: %d", n.Name, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
