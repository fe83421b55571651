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
	"sort"
	"strconv"
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
	Name             string
	Region           string
	CreatedAt        time.Time
	TagMutability    string
	ScanOnPush       bool
	EncryptionType   string
	KMSKey           string
	Tags             map[string]string
	LifecyclePolicy  string
	RepositoryPolicy string
	// Images counts the images in it (a repository with images is not
	// deleted without force).
	Images int
}

// Server is the fake ECR endpoint.
type Server struct {
	URL string

	mu    sync.Mutex
	repos map[string]*Repository // by region/name
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
	s := &Server{URL: "http://" + ln.Addr().String(), repos: map[string]*Repository{}, calls: map[string]int{}}
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
	out, e := s.handle(op, region, in)
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

func str(in map[string]any, k string) string { v, _ := in[k].(string); return v }

func (s *Server) repo(region string, in map[string]any) (*Repository, *apiError) {
	name := str(in, "repositoryName")
	r, ok := s.repos[region+"/"+name]
	if !ok {
		return nil, fail(400, "RepositoryNotFoundException", "The repository with name '%s' does not exist in the registry with id '%s'", name, Account)
	}
	return r, nil
}

func arn(region, name string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, Account, name)
}

func (r *Repository) json() map[string]any {
	enc := map[string]any{"encryptionType": r.EncryptionType}
	if r.KMSKey != "" {
		enc["kmsKey"] = r.KMSKey
	}
	return map[string]any{
		"repositoryArn":              arn(r.Region, r.Name),
		"registryId":                 Account,
		"repositoryName":             r.Name,
		"repositoryUri":              fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", Account, r.Region, r.Name),
		"createdAt":                  float64(r.CreatedAt.Unix()),
		"imageTagMutability":         r.TagMutability,
		"imageScanningConfiguration": map[string]any{"scanOnPush": r.ScanOnPush},
		"encryptionConfiguration":    enc,
	}
}

func tagsIn(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, t := range list {
		m, _ := t.(map[string]any)
		out[str(m, "Key")] = str(m, "Value")
	}
	return out
}

func tagsOut(m map[string]string) []any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []any{}
	for _, k := range keys {
		out = append(out, map[string]any{"Key": k, "Value": m[k]})
	}
	return out
}

// byArn finds a repository by its ARN (the tag operations name it so).
func (s *Server) byArn(in map[string]any) (*Repository, *apiError) {
	a := str(in, "resourceArn")
	for _, r := range s.repos {
		if arn(r.Region, r.Name) == a {
			return r, nil
		}
	}
	return nil, fail(400, "RepositoryNotFoundException", "no repository with ARN %s", a)
}

func (s *Server) handle(op, region string, in map[string]any) (any, *apiError) {
	switch op {
	case "CreateRepository":
		name := str(in, "repositoryName")
		if _, ok := s.repos[region+"/"+name]; ok {
			return nil, fail(400, "RepositoryAlreadyExistsException", "The repository with name '%s' already exists in the registry with id '%s'", name, Account)
		}
		if len(name) < 2 || len(name) > 256 || strings.ToLower(name) != name || strings.Contains(name, " ") {
			return nil, fail(400, "InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint")
		}
		r := &Repository{Name: name, Region: region, CreatedAt: time.Now(), TagMutability: "MUTABLE", EncryptionType: "AES256", Tags: tagsIn(in["tags"])}
		if m := str(in, "imageTagMutability"); m != "" {
			r.TagMutability = m
		}
		if sc, ok := in["imageScanningConfiguration"].(map[string]any); ok {
			r.ScanOnPush, _ = sc["scanOnPush"].(bool)
		}
		if ec, ok := in["encryptionConfiguration"].(map[string]any); ok {
			r.EncryptionType, r.KMSKey = str(ec, "encryptionType"), str(ec, "kmsKey")
		}
		s.repos[region+"/"+name] = r
		return map[string]any{"repository": r.json()}, nil
	case "DescribeRepositories":
		var list []*Repository
		if names, ok := in["repositoryNames"].([]any); ok {
			for _, n := range names {
				r, e := s.repo(region, map[string]any{"repositoryName": n})
				if e != nil {
					return nil, e
				}
				list = append(list, r)
			}
		} else {
			for _, r := range s.repos {
				if r.Region == region {
					list = append(list, r)
				}
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		start, _ := strconv.Atoi(str(in, "nextToken"))
		max := 100
		if m, ok := in["maxResults"].(float64); ok && m > 0 {
			max = int(m)
		}
		out := map[string]any{}
		repos := []any{}
		for i := start; i < len(list) && i < start+max; i++ {
			repos = append(repos, list[i].json())
		}
		if start+max < len(list) {
			out["nextToken"] = strconv.Itoa(start + max)
		}
		out["repositories"] = repos
		return out, nil
	case "DeleteRepository":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		if force, _ := in["force"].(bool); r.Images > 0 && !force {
			return nil, fail(400, "RepositoryNotEmptyException", "The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", r.Name, Account)
		}
		delete(s.repos, region+"/"+r.Name)
		return map[string]any{"repository": r.json()}, nil
	case "PutImageTagMutability":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		r.TagMutability = str(in, "imageTagMutability")
		return map[string]any{"registryId": Account, "repositoryName": r.Name, "imageTagMutability": r.TagMutability}, nil
	case "PutImageScanningConfiguration":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		sc, _ := in["imageScanningConfiguration"].(map[string]any)
		r.ScanOnPush, _ = sc["scanOnPush"].(bool)
		return map[string]any{"registryId": Account, "repositoryName": r.Name, "imageScanningConfiguration": map[string]any{"scanOnPush": r.ScanOnPush}}, nil
	case "ListTagsForResource":
		r, e := s.byArn(in)
		if e != nil {
			return nil, e
		}
		return map[string]any{"tags": tagsOut(r.Tags)}, nil
	case "TagResource":
		r, e := s.byArn(in)
		if e != nil {
			return nil, e
		}
		for k, v := range tagsIn(in["tags"]) {
			r.Tags[k] = v
		}
		return map[string]any{}, nil
	case "UntagResource":
		r, e := s.byArn(in)
		if e != nil {
			return nil, e
		}
		keys, _ := in["tagKeys"].([]any)
		for _, k := range keys {
			delete(r.Tags, fmt.Sprint(k))
		}
		return map[string]any{}, nil
	case "PutLifecyclePolicy":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		r.LifecyclePolicy = str(in, "lifecyclePolicyText")
		return map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": r.LifecyclePolicy}, nil
	case "GetLifecyclePolicy":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		if r.LifecyclePolicy == "" {
			return nil, fail(400, "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name '%s'", r.Name)
		}
		return map[string]any{"registryId": Account, "repositoryName": r.Name, "lifecyclePolicyText": r.LifecyclePolicy}, nil
	case "SetRepositoryPolicy":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		r.RepositoryPolicy = str(in, "policyText")
		return map[string]any{"registryId": Account, "repositoryName": r.Name, "policyText": r.RepositoryPolicy}, nil
	case "GetRepositoryPolicy":
		r, e := s.repo(region, in)
		if e != nil {
			return nil, e
		}
		if r.RepositoryPolicy == "" {
			return nil, fail(400, "RepositoryPolicyNotFoundException", "Repository policy does not exist for the repository with name '%s'", r.Name)
		}
		return map[string]any{"registryId": Account, "repositoryName": r.Name, "policyText": r.RepositoryPolicy}, nil
	}
	return nil, fail(400, "UnknownOperationException", "operation %q is not served here", op)
}
