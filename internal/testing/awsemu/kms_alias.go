package awsemu

import (
	"regexp"
	"strings"
)

var aliasNamePattern = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)

type createAliasInput struct {
	AliasName   *string
	TargetKeyId *string
}

func (e *Emulator) createAlias(in *createAliasInput) (any, error) {
	var v validator
	v.reqStr("aliasName", in.AliasName, 1, 256)
	v.pattern("aliasName", in.AliasName, aliasNamePattern)
	v.reqStr("targetKeyId", in.TargetKeyId, 1, maxKeyIDLen)
	if err := v.err(); err != nil {
		return nil, err
	}
	if err := checkAliasName(*in.AliasName); err != nil {
		return nil, err
	}
	if _, ok := e.st.Aliases[*in.AliasName]; ok {
		return nil, errf("AlreadyExistsException", "An alias with the name %s already exists", e.aliasARN(*in.AliasName))
	}
	k, err := e.resolveKey(*in.TargetKeyId, false)
	if err != nil {
		return nil, err
	}
	if err := e.requireNotPendingDeletion(k); err != nil {
		return nil, err
	}
	now := e.now()
	e.st.Aliases[*in.AliasName] = &kmsAlias{Name: *in.AliasName, KeyID: k.ID, Created: now, Updated: now}
	e.touch()
	return nil, nil
}

// checkAliasName refuses names outside "alias/..." and the reserved
// "alias/aws/" prefix.
func checkAliasName(name string) error {
	rest, ok := strings.CutPrefix(name, "alias/")
	switch {
	case !ok || rest == "":
		return errf("InvalidAliasNameException", "Alias must start with the prefix \"alias/\" and name an alias.")
	case strings.HasPrefix(name, "alias/aws/"):
		return errf("InvalidAliasNameException", "Cannot create alias with prefix 'alias/aws/' because it is reserved.")
	}
	return nil
}

type aliasNameInput struct {
	AliasName *string
}

func (e *Emulator) deleteAlias(in *aliasNameInput) (any, error) {
	var v validator
	v.reqStr("aliasName", in.AliasName, 1, 256)
	v.pattern("aliasName", in.AliasName, aliasNamePattern)
	if err := v.err(); err != nil {
		return nil, err
	}
	if _, ok := e.st.Aliases[*in.AliasName]; !ok {
		return nil, errf(codeNotFound, "Alias %s is not found.", e.aliasARN(*in.AliasName))
	}
	delete(e.st.Aliases, *in.AliasName)
	e.touch()
	return nil, nil
}

type listAliasesInput struct {
	KeyId  *string
	Limit  *int64
	Marker *string
}

type aliasListEntry struct {
	AliasName       string    `json:"AliasName"`
	AliasArn        string    `json:"AliasArn"`
	TargetKeyId     string    `json:"TargetKeyId"`
	CreationDate    epochTime `json:"CreationDate"`
	LastUpdatedDate epochTime `json:"LastUpdatedDate"`
}

type listAliasesOutput struct {
	Aliases    []aliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

func (e *Emulator) listAliases(in *listAliasesInput) (any, error) {
	var v validator
	v.str("keyId", in.KeyId, 1, maxKeyIDLen)
	if err := v.err(); err != nil {
		return nil, err
	}
	keyID := ""
	if in.KeyId != nil {
		k, err := e.resolveKey(*in.KeyId, false)
		if err != nil {
			return nil, err
		}
		keyID = k.ID
	}
	l := sortedListing(e.aliasEntries(keyID), func(a aliasListEntry) string { return a.AliasName }, false, "ListAliases:"+keyID)
	page, next, err := listPage(&listInput{Limit: in.Limit, Marker: in.Marker}, l, 100, 50)
	if err != nil {
		return nil, err
	}
	return listAliasesOutput{Aliases: page, NextMarker: next, Truncated: next != ""}, nil
}

// aliasEntries lists the aliases, only those of key keyID unless it is "".
func (e *Emulator) aliasEntries(keyID string) []aliasListEntry {
	out := make([]aliasListEntry, 0, len(e.st.Aliases))
	for _, a := range e.st.Aliases {
		if keyID != "" && a.KeyID != keyID {
			continue
		}
		out = append(out, aliasListEntry{AliasName: a.Name, AliasArn: e.aliasARN(a.Name), TargetKeyId: a.KeyID,
			CreationDate: epochTime(a.Created), LastUpdatedDate: epochTime(a.Updated)})
	}
	return out
}
