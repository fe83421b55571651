// Package ecrserver is an AWS ECR endpoint for tests, on loopback: it speaks
// ECR's wire protocol (JSON 1.1, X-Amz-Target
// AmazonEC2ContainerRegistry_V20150921.<Operation>), checks each request's
// SigV4 signature against the one access key it knows, keeps repositories
// in memory, and answers errors as ECR does. Switches inject throttling and
// server errors. The real SDK client talks to it through a custom endpoint
// (AWS_ENDPOINT_URL_ECR).
package ecrserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The credentials the server accepts, and its account.
const (
	AccessKey = "AKIALAIKITEST0000001"
	SecretKey = "laiki-test-secret-key-0000000000000000000"
	Account   = "123456789012"
)

const targetPrefix = "AmazonEC2ContainerRegistry_V20150921."

// Repository is a repository as the server keeps it.
type Repository struct {
	Name          string
	Region        string
	CreatedAt     time.Time
	TagMutability string
	// Exclusions are the imageTagMutabilityExclusionFilters (wildcards) of
	// a *_WITH_EXCLUSION tag mutability.
	Exclusions       []string
	ScanOnPush       bool
	EncryptionType   string
	KMSKey           string
	Tags             map[string]string
	LifecyclePolicy  string
	RepositoryPolicy string
	// Images counts images that carry nothing a test looks at (a repository
	// with images is not deleted without force); ImageList are images with
	// a digest, tags and a push time, which lifecycle previews judge.
	Images    int
	ImageList []Image
}

// Image is one image in a repository.
type Image struct {
	Digest   string
	Tags     []string
	PushedAt time.Time
	// StorageClass is STANDARD (the default) or ARCHIVE.
	StorageClass string
}

// count is how many images the repository holds.
func (r *Repository) count() int { return r.Images + len(r.ImageList) }

// Server is the fake ECR endpoint.
type Server struct {
	URL string

	mu    sync.Mutex
	repos map[string]*Repository // by region/name
	// scanning is each region's registry scanning configuration (none set:
	// each repository's scan on push decides, as before registry-level
	// scanning).
	scanning map[string]*ScanningConfiguration
	// templates are the repository creation templates, by region/prefix.
	templates map[string]*Template
	// previews are the lifecycle policy previews, by region/name.
	previews map[string]*preview
	// PreviewDelay is how long a lifecycle policy preview stays
	// IN_PROGRESS (ECR takes seconds).
	PreviewDelay time.Duration
	// throttle: the next so many requests are answered ThrottlingException;
	// fail5xx: the next so many with 500.
	throttle, fail5xx int
	// throttleUntil: every request until then is throttled.
	throttleUntil time.Time
	calls         map[string]int
	rejected      int // requests refused for their signature
	srv           *http.Server
}

// Start serves on a loopback port until Close.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), repos: map[string]*Repository{}, calls: map[string]int{},
		scanning: map[string]*ScanningConfiguration{}, templates: map[string]*Template{}, previews: map[string]*preview{},
		PreviewDelay: 100 * time.Millisecond}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// Throttle answers the next n requests with ThrottlingException.
func (s *Server) Throttle(n int) { s.mu.Lock(); s.throttle = n; s.mu.Unlock() }

// ThrottleFor answers every request with ThrottlingException for d.
func (s *Server) ThrottleFor(d time.Duration) {
	s.mu.Lock()
	s.throttleUntil = time.Now().Add(d)
	s.mu.Unlock()
}

// Fail answers the next n requests with an internal server error.
func (s *Server) Fail(n int) { s.mu.Lock(); s.fail5xx = n; s.mu.Unlock() }

// Calls returns how often each operation was called.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// Rejected counts the requests refused for a missing or wrong signature.
func (s *Server) Rejected() int { s.mu.Lock(); defer s.mu.Unlock(); return s.rejected }

// Repo returns a copy of a repository, or nil.
func (s *Server) Repo(region, name string) *Repository {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[region+"/"+name]
	if !ok {
		return nil
	}
	c := *r
	c.Tags = map[string]string{}
	for k, v := range r.Tags {
		c.Tags[k] = v
	}
	c.Exclusions = append([]string(nil), r.Exclusions...)
	c.ImageList = append([]Image(nil), r.ImageList...)
	return &c
}

// Put creates or replaces a repository out of band (as a user with the
// console would).
func (s *Server) Put(r Repository) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Tags == nil {
		r.Tags = map[string]string{}
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now()
	}
	if r.TagMutability == "" {
		r.TagMutability = "MUTABLE"
	}
	if r.EncryptionType == "" {
		r.EncryptionType = "AES256"
	}
	s.repos[r.Region+"/"+r.Name] = &r
}

// Change changes a repository out of band.
func (s *Server) Change(region, name string, f func(*Repository)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[region+"/"+name]; ok {
		f(r)
	}
}

// Delete deletes a repository out of band.
func (s *Server) Delete(region, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.repos, region+"/"+name)
}

type apiError struct {
	status int
	typ    string
	msg    string
}

func fail(status int, typ, format string, args ...any) *apiError {
	return &apiError{status, typ, fmt.Sprintf(format, args...)}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, fail(400, "SerializationException", "cannot read the body"))
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	region, e := s.verify(r, body)
	s.mu.Lock()
	s.calls[op]++
	switch {
	case e != nil:
		s.rejected++
	case time.Now().Before(s.throttleUntil) || s.throttle > 0:
		if s.throttle > 0 {
			s.throttle--
		}
		e = fail(400, "ThrottlingException", "Rate exceeded")
	case s.fail5xx > 0:
		s.fail5xx--
		e = fail(500, "ServerException", "internal error")
	}
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix) ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		writeError(w, fail(400, "UnknownOperationException", "not an ECR JSON 1.1 request"))
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, fail(400, "SerializationException", "the body is not JSON: %v", err))
		return
	}
	s.mu.Lock()
	out, e := s.dispatch(op, region, in)
	s.mu.Unlock()
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}

// verify checks the SigV4 signature: the request is signed again, over the
// headers it says it signed, with the secret of its access key, and the two
// signatures must be the same. It returns the region of the credential.
func (s *Server) verify(r *http.Request, body []byte) (string, *apiError) {
	auth := r.Header.Get("Authorization")
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "", fail(403, "MissingAuthenticationTokenException", "missing SigV4 authentication")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/") // key/date/region/service/aws4_request
	if len(cred) != 5 || cred[3] != "ecr" || cred[4] != "aws4_request" {
		return "", fail(403, "IncompleteSignatureException", "malformed credential scope %q", fields["Credential"])
	}
	if cred[0] != AccessKey {
		return "", fail(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", fail(403, "IncompleteSignatureException", "X-Amz-Date missing or malformed")
	}
	if d := time.Since(when); d > 15*time.Minute || d < -15*time.Minute {
		return "", fail(403, "InvalidSignatureException", "Signature expired")
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	check, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		if h == "host" {
			continue
		}
		for _, v := range r.Header.Values(h) {
			check.Header.Add(h, v)
		}
	}
	check.Header.Del("Authorization")
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := signer.SignHTTP(context.Background(), creds, check, payload, "ecr", cred[2], when); err != nil {
		return "", fail(403, "InvalidSignatureException", "%v", err)
	}
	want := check.Header.Get("Authorization")
	if want != auth {
		return "", fail(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
	}
	return cred[2], nil
}
