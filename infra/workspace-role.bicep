// Curfew's custom role on one Azure ML workspace, deployed into that workspace's resource group
// (main.bicep calls this module once per workspace, with scope: resourceGroup(subscription, group)).

@description('Name of the Azure ML workspace, in this deployment\'s resource group.')
param workspaceName string

@description('Principal (object) id of Curfew\'s user-assigned managed identity.')
param principalId string

@description('The GUID of Curfew\'s workspace role (infra/role-curfew.json, the `name` that `az role definition create` prints).')
param roleDefinitionGuid string

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

resource curfewOnWorkspace 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, roleDefinitionGuid)
  scope: workspace
  properties: {
    // A custom role keeps one GUID across its assignable scopes; this resolves it in the workspace's subscription.
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionGuid)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Curfew: list, start and stop compute instances and read jobs in this workspace'
  }
}

output roleAssignmentId string = curfewOnWorkspace.id
