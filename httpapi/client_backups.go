package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/stamphq/stamp"
)

// BackupTenant takes a backup of tenant name now (see
// handleBackupCreate) and returns its record once stored.
func (c *Client) BackupTenant(ctx context.Context, name string, req BackupRequest) (*stamp.Backup, error) {
	out := new(stamp.Backup)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/backups", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListBackups returns the backups of tenant name, newest first.
func (c *Client) ListBackups(ctx context.Context, name string) ([]stamp.Backup, error) {
	var out []stamp.Backup
	if err := c.do(ctx, http.MethodGet, "/v1/tenants/"+url.PathEscape(name)+"/backups", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DownloadBackup writes the archive of backup id of tenant name to w,
// and fails if it arrives short.
func (c *Client) DownloadBackup(ctx context.Context, name, id string, w io.Writer) error {
	path := "/v1/tenants/" + url.PathEscape(name) + "/backups/" + url.PathEscape(id) + "/archive"
	resp, err := c.send(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fmt.Errorf("download backup %s of %s: %w", id, name, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("download backup %s of %s: got %d of %d bytes", id, name, n, resp.ContentLength)
	}
	return nil
}

// RestoreTenant puts tenant name back to a backup (its latest when
// req.Backup is empty).
func (c *Client) RestoreTenant(ctx context.Context, name string, req RestoreRequest) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/restore", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CloneTenant makes tenant req.Name from a backup of tenant src.
func (c *Client) CloneTenant(ctx context.Context, src string, req CloneRequest) (*stamp.Tenant, error) {
	out := new(stamp.Tenant)
	if err := c.do(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(src)+"/clone", req, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ImportTenant makes tenant name from the archive read from r (an
// export).
func (c *Client) ImportTenant(ctx context.Context, name string, r io.Reader) (*stamp.Tenant, error) {
	resp, err := c.send(ctx, http.MethodPost, "/v1/tenants/"+url.PathEscape(name)+"/import", "application/octet-stream", r)
	if err != nil {
		return nil, err
	}
	out := new(stamp.Tenant)
	if err := decodeResponse(resp, out); err != nil {
		return nil, err
	}
	return out, nil
}
