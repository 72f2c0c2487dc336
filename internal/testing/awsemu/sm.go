package awsemu

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
)

// Secrets Manager error codes and staging labels.
const (
	codeSMNotFound  = "ResourceNotFoundException"
	codeSMExists    = "ResourceExistsException"
	codeSMRequest   = "InvalidRequestException"
	codeSMParameter = "InvalidParameterException"
	stageCurrent    = "AWSCURRENT"
	stagePrevious   = "AWSPREVIOUS"
	maxVersions     = 100
)

var smService = &service{
	signingName:  "secretsmanager",
	targetPrefix: "secretsmanager",
	messageField: "Message",
	ops: map[string]opSpec{
		"CreateSecret":   handle((*Emulator).createSecret),
		"GetSecretValue": handle((*Emulator).getSecretValue),
		"PutSecretValue": handle((*Emulator).putSecretValue),
		"DescribeSecret": handle((*Emulator).describeSecret),
		"ListSecrets":    handle((*Emulator).listSecrets),
		"DeleteSecret":   handle((*Emulator).deleteSecret),
		"RestoreSecret":  handle((*Emulator).restoreSecret),
		"UpdateSecret":   handle((*Emulator).updateSecret),
	},
}

var secretNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

// smTag is Secrets Manager's Tag structure.
type smTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

// secretARN is a new ARN for the secret name: the name, a hyphen and six
// random characters.
func (e *Emulator) secretARN(name string) string {
	return e.arn("secretsmanager", "secret:"+name+"-"+randomSuffix(6))
}

// findSecret finds the secret a SecretId names: its name, its ARN or its
// ARN without the random suffix.
func (e *Emulator) findSecret(id string) (*secret, error) {
	if s, ok := e.st.Secrets[id]; ok {
		return s, nil
	}
	prefix := e.ownARNPrefix("secretsmanager") + "secret:"
	if name, ok := strings.CutPrefix(id, prefix); ok {
		for _, s := range e.st.Secrets {
			if s.ARN == id || (s.Name == name && strings.HasPrefix(s.ARN, id+"-")) {
				return s, nil
			}
		}
	}
	return nil, errf(codeSMNotFound, "Secrets Manager can't find the specified secret.")
}

// liveSecret finds a secret that is not scheduled for deletion.
func (e *Emulator) liveSecret(id string) (*secret, error) {
	s, err := e.findSecret(id)
	if err != nil {
		return nil, err
	}
	if s.DeletedDate != nil {
		return nil, errf(codeSMRequest, "You can't perform this operation on the secret because it was marked for deletion.")
	}
	return s, nil
}

// version returns the version with id, or nil.
func (s *secret) version(id string) *secretVersion {
	for _, v := range s.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

// byStage returns the version carrying stage, or nil.
func (s *secret) byStage(stage string) *secretVersion {
	for _, v := range s.Versions {
		if slices.Contains(v.Stages, stage) {
			return v
		}
	}
	return nil
}

// addVersion adds v and moves each of stages onto it; moving AWSCURRENT
// moves AWSPREVIOUS onto the version that was current. Versions without
// stages beyond the 100 most recent are dropped, as AWS does.
func (s *secret) addVersion(v *secretVersion, stages []string) {
	if prev := s.byStage(stageCurrent); prev != nil && slices.Contains(stages, stageCurrent) {
		s.moveStage(stagePrevious, prev)
	}
	for _, st := range stages {
		s.moveStage(st, v)
	}
	s.Versions = append(s.Versions, v)
	for len(s.Versions) > maxVersions {
		i := slices.IndexFunc(s.Versions, func(v *secretVersion) bool { return len(v.Stages) == 0 })
		if i < 0 {
			break
		}
		s.Versions = slices.Delete(s.Versions, i, i+1)
	}
}

// moveStage takes stage off every version and puts it on to.
func (s *secret) moveStage(stage string, to *secretVersion) {
	for _, v := range s.Versions {
		v.Stages = slices.DeleteFunc(v.Stages, func(x string) bool { return x == stage })
	}
	to.Stages = append(to.Stages, stage)
}

// sameValue reports whether v holds exactly the given value.
func (v *secretVersion) sameValue(str *string, bin []byte) bool {
	if (v.String == nil) != (str == nil) || (v.Binary == nil) != (bin == nil) {
		return false
	}
	return (str == nil || *v.String == *str) && bytes.Equal(v.Binary, bin)
}

// stagesToVersions maps the ids of versions carrying stages to them.
func (s *secret) stagesToVersions() map[string][]string {
	m := map[string][]string{}
	for _, v := range s.Versions {
		if len(v.Stages) > 0 {
			m[v.ID] = slices.Clone(v.Stages)
		}
	}
	return m
}

// validateSecretValue checks SecretString and SecretBinary.
func validateSecretValue(v *validator, str *string, bin []byte) {
	if str != nil {
		v.blob("secretString", []byte(*str), 0, 65536)
	}
	v.blob("secretBinary", bin, 0, 65536)
}

// checkOneValue refuses a request with both SecretString and SecretBinary.
func checkOneValue(str *string, bin []byte) error {
	if str != nil && bin != nil {
		return errf(codeSMParameter, "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	return nil
}

// validateSMTags checks a tag list.
func validateSMTags(v *validator, tags []smTag) {
	v.count("tags", len(tags), 0, 50)
	for _, t := range tags {
		v.reqStr("tags.member.key", t.Key, 1, 128)
		v.reqStr("tags.member.value", t.Value, 0, 256)
	}
}

// checkSMTags refuses duplicate and reserved tag keys.
func checkSMTags(tags []smTag) error {
	for i, t := range tags {
		if strings.HasPrefix(strings.ToLower(*t.Key), "aws:") {
			return errf(codeSMParameter, "Tag keys beginning with 'aws:' are reserved.")
		}
		for _, u := range tags[:i] {
			if *u.Key == *t.Key {
				return errf(codeSMParameter, "Duplicate tag key %s.", *t.Key)
			}
		}
	}
	return nil
}
