package blueprint

import (
	"os"
	"testing"

	"github.com/stamphq/stamp"
)

// ledger returns the blueprint in testdata/valid/full.yaml.
func ledger(t *testing.T) *Blueprint {
	t.Helper()
	data, err := os.ReadFile("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("stamp.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	b.Version = "1.0.0"
	return b
}

func TestResolvePlan(t *testing.T) {
	b := ledger(t)
	tests := []struct {
		name, want, wantErr string
		replicas            int
	}{
		{name: "", want: "starter", replicas: 1},
		{name: "business", want: "business", replicas: 2},
		{name: "gold", wantErr: `plan "gold" does not exist in blueprint ledger@1.0.0 (plans: business, starter)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, plan, err := b.ResolvePlan(tt.name)
			if tt.wantErr != "" {
				if errString(err) != tt.wantErr || stamp.ErrorCode(err) != stamp.EUNPROCESSABLE {
					t.Fatalf("got %q (%s), want %q (%s)", errString(err), stamp.ErrorCode(err), tt.wantErr, stamp.EUNPROCESSABLE)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || plan.Replicas != tt.replicas {
				t.Errorf("got %q with %d replicas, want %q with %d", got, plan.Replicas, tt.want, tt.replicas)
			}
		})
	}
}

func TestResolveParams(t *testing.T) {
	b := ledger(t)
	tests := []struct {
		name    string
		given   map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name:  "defaults",
			given: map[string]string{"admin_email": "a@example.com"},
			want:  map[string]string{"admin_email": "a@example.com", "currency": "EUR"},
		},
		{
			name:  "override",
			given: map[string]string{"admin_email": "a@example.com", "currency": "USD"},
			want:  map[string]string{"admin_email": "a@example.com", "currency": "USD"},
		},
		{
			name:    "missing required",
			given:   nil,
			wantErr: `parameter "admin_email" is required`,
		},
		{
			name:    "empty required",
			given:   map[string]string{"admin_email": ""},
			wantErr: `parameter "admin_email" is required`,
		},
		{
			name:  "all problems sorted",
			given: map[string]string{"zone": "x", "currency": "eur", "color": "red"},
			wantErr: `parameter "admin_email" is required; ` +
				`unknown parameter "color" (parameters: admin_email, currency); ` +
				`parameter "currency": value "eur" does not match pattern "^[A-Z]{3}$"; ` +
				`unknown parameter "zone" (parameters: admin_email, currency)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.ResolveParams(tt.given)
			if tt.wantErr != "" {
				if errString(err) != tt.wantErr || stamp.ErrorCode(err) != stamp.EUNPROCESSABLE {
					t.Fatalf("got %q (%s), want %q (%s)", errString(err), stamp.ErrorCode(err), tt.wantErr, stamp.EUNPROCESSABLE)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestResolveParamsNone(t *testing.T) {
	b, err := Parse("stamp.yaml", []byte("name: x\nversion: 1.0.0\nparameters: {opt: {}}\nservices: {web: {image: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.ResolveParams(nil)
	if err != nil || len(got) != 1 || got["opt"] != "" {
		t.Errorf("got %v, %v; want opt set to the empty string", got, err)
	}
	b.Parameters = nil
	_, err = b.ResolveParams(map[string]string{"a": "1"})
	if got, want := errString(err), `unknown parameter "a" (the blueprint has no parameters)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestVersions(t *testing.T) {
	valid := []string{"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7",
		"1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3--117B344092BD",
		"1.0.0-rc.1+build.01", "99999999999999999999.0.0"}
	invalid := []string{"", "1", "1.2", "v1.2.3", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3+", "1.2.3-01",
		"1.2.3-a..b", "1.2.3-a_b", "1.2.3.4", " 1.2.3", "1.2.3 ", "-1.2.3", "1.2.3-+x", "1.2.3+a+b"}
	for _, v := range valid {
		if !ValidVersion(v) {
			t.Errorf("ValidVersion(%q): got false, want true", v)
		}
	}
	for _, v := range invalid {
		if ValidVersion(v) {
			t.Errorf("ValidVersion(%q): got true, want false", v)
		}
	}
	// The precedence example of semver.org, in ascending order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0", "10.0.0", "99999999999999999999.0.0"}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareVersions(a, b); got != want {
				t.Errorf("CompareVersions(%q, %q): got %d, want %d", a, b, got, want)
			}
		}
	}
	if got := CompareVersions("1.0.0+a", "1.0.0+b"); got != 0 {
		t.Errorf("build metadata: got %d, want 0", got)
	}
}

func TestUnits(t *testing.T) {
	sizes := []struct {
		in   string
		want int64
	}{
		{"128Mi", 128 << 20}, {"1Gi", 1 << 30}, {"512Ki", 512 << 10}, {"2Ti", 2 << 40},
		{"100M", 100e6}, {"1G", 1e9}, {"5K", 5000}, {"5k", 5000}, {"3T", 3e12}, {"1048576", 1048576},
	}
	for _, tt := range sizes {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q): got %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "12Qi", "-1", "-1Gi", "+1Gi", "1.5Gi", "Gi", "1 Gi", "1gi", "0", "0Mi", "9223372036854775807Ki"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded, want an error", in)
		}
	}
	cpus := []struct {
		in   string
		want float64
	}{{"1", 1}, {"0.25", 0.25}, {"250m", 0.25}, {"2.5", 2.5}, {"1500m", 1.5}, {"1e1", 10}}
	for _, tt := range cpus {
		if got, err := parseCPU(tt.in); err != nil || got != tt.want {
			t.Errorf("parseCPU(%q): got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "0", "-1", "0m", "-5m", "m", "1.5m", "abc", "NaN", "Inf", "0x1p-2", "1_0"} {
		if _, err := parseCPU(in); err == nil {
			t.Errorf("parseCPU(%q) succeeded, want an error", in)
		}
	}
}
